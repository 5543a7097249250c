"""Loop state: round trip, atomic saves, label bookkeeping, and what goes into the loop key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.active import state as al_state
from pipelines.active.state import (
    RoundRecord,
    RoundState,
    StateError,
    load_state,
    loop_key,
    save_state,
    state_path,
)
from pipelines.core.config import load_config


def _state() -> RoundState:
    return RoundState("k1", "margin", ("ball_x", "ball_y"), round=2,
                      labelled=("a-s00001", "a-s00002"),
                      labels={"a-s00001": (1, 2), "a-s00002": (3, 4)},
                      pending=("a-s00003", "a-s00004"),
                      history=(RoundRecord(0, 1, {"ball_x": 0.1, "ball_y": 0.2}),
                               RoundRecord(1, 2, {"ball_x": 0.3, "ball_y": 0.4})))


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    save_state(path, _state())
    assert load_state(path, "k1", "margin") == _state()
    assert load_state(tmp_path / "none.json") is None


def test_add_labels_moves_frames_from_pending_and_records_the_source() -> None:
    s = _state().add_labels(["a-s00004"], [[5, 6]], source="human")
    assert s.pending == ("a-s00003",)
    assert s.labelled[-1] == "a-s00004" and s.labels["a-s00004"] == (5, 6)
    assert s.human == ("a-s00004",)
    s = s.add_labels(["a-s00003"], [[7, 8]])
    assert not s.waiting and s.human == ("a-s00004",)
    with pytest.raises(StateError, match="not pending"):
        _state().add_labels(["zzz"], [[1, 2]])
    with pytest.raises(StateError, match="expected 2 values"):
        _state().add_labels(["a-s00003"], [[1]])


def test_a_failed_save_leaves_the_previous_state_and_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.json"
    save_state(path, _state())
    before = path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(al_state.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_state(path, _state().add_labels(["a-s00003"], [[0, 0]]))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["s.json"]


def test_unreadable_or_foreign_states_raise(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{not json")
    with pytest.raises(StateError, match="not a readable"):
        load_state(path)
    save_state(path, _state())
    with pytest.raises(StateError, match="belongs to loop k1"):
        load_state(path, key="k2")
    with pytest.raises(StateError, match="margin loop"):
        load_state(path, strategy="bald")


def test_loop_key_ignores_budget_and_oracle_but_not_what_picks_frames(tmp_path: Path) -> None:
    def key(*sets: str) -> str:
        return loop_key(load_config("smoke", sets=sets), "digest", "random init (seed 0)")

    base = key()
    assert key("active.budget=500") == base
    assert key("active.oracle=human") == base
    assert key("active.stream_budget=3") == base
    assert key("active.strategies=[margin]") == base  # one state file per strategy anyway
    assert key("active.batch_size=7") != base
    assert key("active.seed_size=3") != base
    assert key("seed=1") != base
    assert loop_key(load_config("smoke"), "other", "random init (seed 0)") != base
    assert state_path(tmp_path, base, "bald") == (tmp_path / "active" / base / "bald.json"
                                                  ).resolve()
