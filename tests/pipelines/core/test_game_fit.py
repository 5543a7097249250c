"""Game-dependent settings fail at config load, naming the field (pipelines/core/game_fit.py):
curriculum modes and difficulties the ROM lacks, RAM labels the game does not annotate; and
the rl_curriculum every annotated game gets when its config names no tasks. ROM facts only:
no emulator, no Ray."""

from __future__ import annotations

import pytest

from agents.atari_env import ale_game_ids, rom_name
from pipelines.core.config import ArcadeConfig, ConfigError, load_config, validate
from pipelines.core.game_fit import (
    default_rl_curriculum,
    game_variants,
    single_variant,
    tasks_problem,
)
from pipelines.data.labels import annotated_games
from pipelines.rl.experiments import ExperimentResult, curriculum_skip


def game_id(rom: str) -> str:
    """The ALE env id (`ALE/<Name>-v5`) of a ROM."""
    ids = [g for g in ale_game_ids() if g.endswith("-v5") and rom_name(g) == rom]
    assert len(ids) == 1, (rom, ids)
    return ids[0]


@pytest.mark.parametrize(("sets", "message"), [
    # Pong's default curriculum asks for difficulty 2; Breakout has 0 and 1 only.
    (["game=ALE/Breakout-v5", "rl_curriculum.tasks=[{difficulty: 0}, {difficulty: 2}]"],
     "rl_curriculum.tasks: task 1 {'difficulty': 2}: difficulty 2 not available in "
     "ALE/Breakout-v5 (its difficulties: [0, 1])"),
    (["rl_curriculum.tasks=[{mode: 0}, {mode: 5}]"],
     "rl_curriculum.tasks: task 1 {'mode': 5}: mode 5 not available in ALE/Pong-v5"),
    (["rl.env_backend=gymnasium", "rl.curriculum.tasks=[{mode: 3}]"],
     "rl.curriculum: task 0 {'mode': 3}: mode 3 not available in ALE/Pong-v5 (its modes: "
     "[0, 1])"),
    (["game=ALE/Breakout-v5", "rl.env_backend=gymnasium",
      "rl.curriculum.tasks=[{difficulty: 0}, {difficulty: 3}]"],
     "rl.curriculum: task 1 {'difficulty': 3}: difficulty 3 not available"),
])
def test_curriculum_variants_the_rom_lacks_fail_at_config_load(sets: list[str],
                                                               message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("smoke", sets=sets)
    assert message in str(info.value)


def test_curriculum_tasks_the_rom_has_pass() -> None:
    cfg = load_config("smoke", sets=["game=ALE/Breakout-v5", "rl.env_backend=gymnasium",
                                     "rl.curriculum.tasks=[{mode: 0, difficulty: 1}, "
                                     "{frameskip: 2}]"])
    assert cfg.rl.curriculum.tasks[0] == {"mode": 0, "difficulty": 1}
    assert tasks_problem("ALE/Pong-v5", ({"frameskip": 9},)) is None  # not a ROM variant


def test_pong_keeps_its_measured_curriculum_and_object_configs_get_it_too() -> None:
    pong = load_config("laptop").rl_curriculum
    assert pong.tasks == ({"difficulty": 0}, {"difficulty": 2}) and pong.promote_at == -15.0
    assert ArcadeConfig().rl_curriculum == pong
    assert validate({"preset": "smoke"}).rl_curriculum == pong
    # Naming another rl_curriculum field keeps the game's tasks (it used to drop them).
    other = load_config("smoke", sets=["rl_curriculum.promote_at=-10"]).rl_curriculum
    assert other.tasks == pong.tasks and other.promote_at == -10.0
    # Naming the tasks replaces them; a resolved config validates to itself.
    named = load_config("smoke", sets=["rl_curriculum.tasks=[{difficulty: 3}]"])
    assert named.rl_curriculum.tasks == ({"difficulty": 3},)
    assert validate(named.model_dump(mode="json")) == named


@pytest.mark.parametrize("rom", annotated_games())
def test_every_annotated_game_loads_with_a_curriculum_its_rom_has(rom: str) -> None:
    game = game_id(rom)
    cfg = load_config("smoke", sets=[f"game={game}"])  # validates every game-dependent field
    tasks = cfg.rl_curriculum.tasks
    assert tasks_problem(game, tasks) is None
    assert tasks == tuple(default_rl_curriculum(game)["tasks"])
    _, difficulties = game_variants(game)
    if single_variant(game):
        assert tasks == () and curriculum_skip(cfg) is not None
    else:
        assert len(tasks) == 2 and tasks[0] != tasks[-1] and curriculum_skip(cfg) is None
        key = "difficulty" if len(difficulties) > 1 else "mode"
        assert set(tasks[0]) == {key}


def test_derived_curricula() -> None:
    assert default_rl_curriculum("ALE/Breakout-v5") == {
        "tasks": ({"difficulty": 0}, {"difficulty": 1})}
    assert default_rl_curriculum("ALE/BattleZone-v5") == {"tasks": ({"mode": 1}, {"mode": 2})}
    assert default_rl_curriculum("ALE/MontezumaRevenge-v5") == {"tasks": ()}


def test_a_game_with_one_variant_skips_rl_curriculum_before_any_compute() -> None:
    cfg = load_config("smoke", sets=["game=ALE/MontezumaRevenge-v5"])
    why = curriculum_skip(cfg)
    assert why is not None and why.startswith("ALE/MontezumaRevenge-v5 has one mode and one "
                                              "difficulty")
    assert ExperimentResult("rl_curriculum", {}, {}, skipped=why).describe() == f"skipped: {why}"
    # Tasks named by hand (frameskip varies on any game) run it.
    framed = load_config("smoke", sets=["game=ALE/MontezumaRevenge-v5",
                                        "rl_curriculum.tasks=[{frameskip: 2}, {frameskip: 4}]"])
    assert curriculum_skip(framed) is None
