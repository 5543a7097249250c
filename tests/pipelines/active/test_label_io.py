"""Validating a person's labels file: every problem reported at once, nothing imported."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipelines.active.label_io import (
    MAX_ERRORS_SHOWN,
    LabelImportError,
    LoopLocation,
    import_labels,
    read_labels,
)
from pipelines.active.state import RoundState, load_state, save_state

NAMES = ("ball_x", "ball_y")


def _state() -> RoundState:
    return RoundState("k", "margin", NAMES, labelled=("e-s00000",), labels={"e-s00000": (1, 2)},
                      pending=("e-s00001", "e-s00002", "e-s00003"))


def _csv(path: Path, rows: list[list[object]], header: tuple[str, ...] = ("id", "png", *NAMES)
         ) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([list(header), *rows])
    return path


def test_good_rows_import_blank_rows_wait(tmp_path: Path) -> None:
    path = _csv(tmp_path / "l.csv", [["e-s00001", "", 10, 20], ["e-s00002", "", " 0 ", "255"],
                                     ["e-s00003", "", "", ""]])
    ids, values, skipped = read_labels(path, _state())
    assert ids == ["e-s00001", "e-s00002"] and values == [[10, 20], [0, 255]] and skipped == 1
    state_file = tmp_path / "margin.json"
    save_state(state_file, _state())
    loc = LoopLocation(state_file, _state(), tmp_path)
    state, n, skipped = import_labels(loc, path)
    assert (n, skipped) == (2, 1)
    assert load_state(state_file) == state
    assert state.pending == ("e-s00003",) and state.human == ("e-s00001", "e-s00002")


def test_every_bad_row_is_reported_and_nothing_imported(tmp_path: Path) -> None:
    path = _csv(tmp_path / "bad.csv", [
        ["e-s00001", "", 10, 20],
        ["e-s00001", "", 10, 20],  # duplicate
        ["e-s00000", "", 1, 2],  # already labelled
        ["nope", "", 1, 2],  # never queried
        ["", "", 1, 2],  # no id
        ["e-s00002", "", -1, 256],  # out of range, twice
        ["e-s00003", "", "3.5", ""],  # not an integer, and a partly blank row
    ])
    state_file = tmp_path / "margin.json"
    save_state(state_file, _state())
    saved = state_file.read_bytes()
    with pytest.raises(LabelImportError) as info:
        import_labels(LoopLocation(state_file, _state(), tmp_path), path)
    msg = str(info.value)
    for fragment in ("8 bad row(s), nothing imported", "line 3: duplicate id 'e-s00001' (first "
                     "on line 2)", "line 4: 'e-s00000' is already labelled",
                     "line 5: unknown id 'nope'", "line 6: empty id",
                     "line 7: ball_x = -1 is out of range [0, 255]", "line 7: ball_y = 256",
                     "line 8: ball_x = '3.5' is not an integer", "line 8: ball_y = '' is empty"):
        assert fragment in msg
    assert state_file.read_bytes() == saved


@pytest.mark.parametrize(("rows", "header", "fragment"), [
    ([["e-s00001", "", 1]], ("id", "png", "ball_x"), "missing column(s) ['ball_y']"),
    ([["e-s00001", "", "", ""]], ("id", "png", *NAMES), "no labelled rows (1 left blank)"),
    ([], ("id", "png", *NAMES), "no labelled rows"),
])
def test_unusable_files(tmp_path: Path, rows: list, header: tuple, fragment: str) -> None:
    with pytest.raises(LabelImportError, match=fragment.replace("(", r"\(").replace(
            ")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        read_labels(_csv(tmp_path / "l.csv", rows, header), _state())
    with pytest.raises(LabelImportError, match="not found"):
        read_labels(tmp_path / "missing.csv", _state())


def test_long_error_lists_are_cut_with_a_count(tmp_path: Path) -> None:
    rows = [[f"x-s{i:05d}", "", 1, 2] for i in range(MAX_ERRORS_SHOWN + 5)]
    with pytest.raises(LabelImportError, match=r"and 5 more"):
        read_labels(_csv(tmp_path / "l.csv", rows), _state())
