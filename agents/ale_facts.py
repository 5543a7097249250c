"""What each ROM offers (game modes, difficulties, minimal action set), read once from ALE and
shipped as `ale_facts.json`, so validating a config never starts the emulator.

ROMs not in the file (any ALE game beyond those AtariARI annotates) are asked of ALE itself,
once per process. `tests/agents/test_ale_facts.py` checks every entry against ALE, so an ale-py
upgrade that changes a ROM's facts fails there, not minutes into a run. Regenerate with
`python -m agents.ale_facts [ROM ...]` (ale-py's ROM names, e.g. `ms_pacman`).
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import ale_py

FACTS = Path(__file__).with_name("ale_facts.json")


@cache
def _shipped() -> dict[str, dict[str, Any]]:
    return json.loads(FACTS.read_text())["roms"] if FACTS.exists() else {}


def from_emulator(rom: str) -> dict[str, Any]:
    """Modes, difficulties and minimal action names of `rom`, asked of ALE."""
    # Static, and before the interface exists: its constructor prints the ALE banner otherwise.
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    ale = ale_py.ALEInterface()
    ale.loadROM(ale_py.roms.get_rom_path(rom))
    return {"modes": [int(m) for m in ale.getAvailableModes()],
            "difficulties": [int(d) for d in ale.getAvailableDifficulties()],
            "minimal_actions": [a.name for a in ale.getMinimalActionSet()]}


@cache
def rom_facts(rom: str) -> dict[str, Any]:
    """The shipped facts of `rom`, else ALE's answer (once per process)."""
    return _shipped().get(rom) or from_emulator(rom)


def write(roms: list[str]) -> None:
    """Ask ALE about `roms` and write them (sorted, one line each) to the shipped file."""
    lines = [f"  {json.dumps(rom)}: {json.dumps(from_emulator(rom))}" for rom in sorted(roms)]
    FACTS.write_text(f'{{\n "ale_py": {json.dumps(ale_py.__version__)},\n "roms": {{\n'
                     + ",\n".join(lines) + "\n }\n}\n")


if __name__ == "__main__":
    # `python -m agents.ale_facts [ROM ...]`: the shipped ROMs again, plus any named.
    write(sorted({*_shipped(), *sys.argv[1:]}))
    print(f"wrote {FACTS}")
