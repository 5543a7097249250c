"""The shipped ROM facts (agents/ale_facts.json) are ALE's own answers, so config validation
can read them without starting the emulator."""

from __future__ import annotations

import json

import ale_py
import pytest

from agents import ale_facts

SHIPPED = json.loads(ale_facts.FACTS.read_text())


def test_facts_were_read_from_the_ale_py_in_use() -> None:
    assert SHIPPED["ale_py"] == ale_py.__version__  # regenerate after an ale-py upgrade
    assert {"pong", "breakout"} <= set(SHIPPED["roms"])


@pytest.mark.parametrize("rom", sorted(SHIPPED["roms"]))
def test_shipped_facts_match_the_emulator(rom: str) -> None:
    assert SHIPPED["roms"][rom] == ale_facts.from_emulator(rom)


def test_config_validation_starts_no_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.core.config import game_variants, load_config

    ale_facts.rom_facts.cache_clear()
    monkeypatch.setattr(ale_py, "ALEInterface", None)  # any emulator start would fail
    cfg = load_config("smoke", sets=("game=ALE/Breakout-v5", "policy_transfer.difficulties=[1]"))
    assert game_variants(cfg.game) == (tuple(SHIPPED["roms"]["breakout"]["modes"]),
                                       tuple(SHIPPED["roms"]["breakout"]["difficulties"]))
    ale_facts.rom_facts.cache_clear()
