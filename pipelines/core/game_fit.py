"""What a config may ask of its game, answered from shipped facts before any compute: the
ROM's modes and difficulties (agents/ale_facts.json), its RAM labels (AtariARI's table), and
the RL curriculum a game gets when a config names none.

ALE raises a bare error for a mode the ROM lacks, and a stage finds an unknown label only
once it reads the dataset: both minutes into a flow. `pipelines.core.config` asks these
questions while it validates, so a bad setting fails at config load, naming its field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agents.ale_facts import rom_facts
from agents.atari_env import rom_name

# The rl_curriculum of a game measured for it: Pong's difficulty 2 halves the player's paddle
# (16 -> 8 pixel rows), and -15 is a return on Pong's -21..21 scale.
KNOWN_RL_CURRICULA: dict[str, dict[str, Any]] = {
    "pong": {"tasks": ({"difficulty": 0}, {"difficulty": 2}), "promote_at": -15.0}}


def game_variants(game: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(modes, difficulties) the game's ROM offers (Pong: 0-1, 0-3), from the ROM facts
    agents/ ships (no emulator started to validate a config)."""
    facts = rom_facts(rom_name(game))
    return tuple(facts["modes"]), tuple(facts["difficulties"])


def variants_problem(game: str, modes: Iterable[int] = (), difficulties: Iterable[int] = ()
                     ) -> str | None:
    """Why these modes / difficulties cannot be played on `game` (None: its ROM has them all);
    the message starts with the field it names (`modes: ...`)."""
    for name, asked, known in zip(("modes", "difficulties"), (modes, difficulties),
                                  game_variants(game), strict=True):
        missing = [x for x in dict.fromkeys(asked) if x not in known]
        if missing:
            return f"{name}: {missing} not available in {game} (it has {list(known)})"
    return None


def tasks_problem(game: str, tasks: Sequence[Mapping[str, int]]) -> str | None:
    """Why curriculum tasks cannot be played on `game` (None: every mode and difficulty they
    set is the ROM's); names the first task that cannot."""
    modes, difficulties = game_variants(game)
    for i, task in enumerate(tasks):
        for key, plural, known in (("mode", "modes", modes),
                                   ("difficulty", "difficulties", difficulties)):
            if key in task and task[key] not in known:
                return (f"task {i} {dict(task)}: {key} {task[key]} not available in {game} "
                        f"(its {plural}: {list(known)})")
    return None


def default_rl_curriculum(game: str) -> dict[str, Any]:
    """The rl_curriculum fields a config that names no tasks gets: the game's measured one
    (Pong), else its first and last difficulty switch setting, else its first two modes, else
    no tasks (one mode and one difficulty: no variant curriculum, the stage is skipped).
    Thresholds other than Pong's are the section's defaults: set promote_at for your game."""
    rom = rom_name(game)
    if rom in KNOWN_RL_CURRICULA:
        return dict(KNOWN_RL_CURRICULA[rom])
    modes, difficulties = game_variants(game)
    if len(difficulties) > 1:
        return {"tasks": ({"difficulty": difficulties[0]}, {"difficulty": difficulties[-1]})}
    if len(modes) > 1:
        return {"tasks": ({"mode": modes[0]}, {"mode": modes[1]})}
    return {"tasks": ()}


def single_variant(game: str) -> bool:
    """One mode and one difficulty: nothing for a curriculum over variants to order."""
    modes, difficulties = game_variants(game)
    return len(modes) == 1 and len(difficulties) == 1


def labels_problem(game: str, field: str, names: Iterable[str] | None) -> str | None:
    """Why `names` are not RAM labels of `game` (None: they all are, or none are named); the
    message starts with `field`."""
    if not names:
        return None
    from pipelines.data.labels import labels_for  # numpy and pandas: only when asked

    known = labels_for(rom_name(game))
    unknown = [n for n in names if n not in known]
    if unknown:
        return (f"{field}: {unknown} are not RAM labels of {game} (its labels: "
                f"{', '.join(known) or 'none'})")
    return None
