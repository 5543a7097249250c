"""Pure parts of the RL experiments: the transfer metric, the arms' configs, tune validation."""

from __future__ import annotations

import math
import re

import pytest

from pipelines.core.config import ConfigError, load_config
from pipelines.rl.experiments import curriculum_arms, steps_to_return, with_rl


@pytest.mark.parametrize(("threshold", "expected"), [
    (-21.0, 100.0),   # already there at the first point
    (-15.0, 300.0),   # first point at or above, not the best one
    (-14.0, 400.0),
    (0.0, None),      # never reached
])
def test_steps_to_return(threshold: float, expected: float | None) -> None:
    steps = [100, 200, 300, 400]
    returns = [-20.0, math.nan, -15.0, -10.0]
    assert steps_to_return(steps, returns, threshold) == expected


def test_steps_to_return_rejects_ragged_curves() -> None:
    with pytest.raises(ValueError, match="3 steps but 2 returns"):
        steps_to_return([1, 2, 3], [0.0, 1.0], 0.0)


def test_with_rl_validates_like_any_config() -> None:
    cfg = load_config("smoke")
    assert with_rl(cfg, lr=1e-3).rl.lr == 1e-3
    with pytest.raises(ConfigError, match=r"rl\.lr"):
        with_rl(cfg, lr=-1.0)


def test_curriculum_arms_share_budget_and_target() -> None:
    cfg = load_config("smoke")
    arms = curriculum_arms(cfg)
    assert set(arms) == {"curriculum", "no_curriculum", "uniform_mix"}
    with_cur, without, mix = (arms[a].rl for a in ("curriculum", "no_curriculum", "uniform_mix"))
    assert with_cur.iterations == without.iterations == mix.iterations
    assert with_cur.curriculum.tasks == mix.curriculum.tasks == cfg.rl_curriculum.tasks
    assert (with_cur.curriculum.order, mix.curriculum.order) == ("promote", "mix")
    assert without.curriculum.tasks == (cfg.rl_curriculum.tasks[-1],)
    assert with_cur.env_backend == without.env_backend == mix.env_backend == "gymnasium"


def test_a_mix_plays_every_task_side_by_side_and_evaluates_the_last() -> None:
    """The uniform-mix control: env i of a runner plays task i mod n from the start."""
    from agents.atari_env import rllib_env_creator
    from agents.ppo import env_config
    from pipelines.rl.train import _curriculum_state, _mix_task, target_env_config

    cfg = curriculum_arms(load_config("smoke"))["uniform_mix"]
    assert _curriculum_state(cfg) is None  # no promotion schedule
    task = _mix_task(cfg)
    assert task == {"mix": [dict(t) for t in cfg.rl.curriculum.tasks]}
    env = rllib_env_creator({**env_config(cfg.game, cfg.rl, **task), "num_envs": 4})
    difficulties = [e.unwrapped._game_difficulty for e in env.envs]  # what ALE was set to
    n = len(cfg.rl.curriculum.tasks)
    assert difficulties == [cfg.rl.curriculum.tasks[i % n]["difficulty"] for i in range(4)]
    env.close()
    assert target_env_config(cfg, None)["difficulty"] == cfg.rl.curriculum.tasks[-1]["difficulty"]


@pytest.mark.parametrize(("sets", "message"), [
    (["tune.params={lrr: [1]}"], "not RL fields: lrr (did you mean 'lr'?)"),
    (["tune.params={lr: []}"], "at least one value"),
    (["tune.target=active", "tune.params={gamma: [1]}"], "not active-learning fields: gamma"),
    (["tune.target=active", "tune.params={oracle: [human]}"], "not active-learning fields"),
    (["tune.params={curriculum: [1]}"], "not RL fields: curriculum"),
    (["rl.curriculum.tasks=[{speed: 1}]"], "keys must be a non-empty subset"),
    (["rl.curriculum.tasks=[{mode: 1}]"], "need env_backend=gymnasium"),
    (["rl.curriculum.promote_at=0", "rl.curriculum.demote_at=1"], "must be below promote_at"),
    (["transfer.modes=[frozen, frozen]"], "distinct"),
    (["rl.transfer=thawed"], "rl.transfer"),
])
def test_bad_rl_settings_are_refused(sets: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config("smoke", sets=sets)


def test_holds_from_is_where_every_later_point_passes() -> None:
    from pipelines.rl.experiments import holds_from

    steps = [10, 20, 30, 40, 50]
    assert holds_from(steps, [-21, 19, 5, 18, 20], 18) == 40  # a lucky 19 at 20 does not count
    assert holds_from(steps, [18, 19, 20, 21, 21], 18) == 10
    assert holds_from(steps, [18, 19, 20, 21, 17], 18) is None
    assert holds_from(steps, [18, float("nan"), 20, 21, 21], 18) == 30  # no score: not held
    assert holds_from([], [], 0) is None
    with pytest.raises(ValueError, match="2 steps but 1 returns"):
        holds_from([1, 2], [0.0], 0)


def test_wall_clock_of_one_run_is_since_its_start() -> None:
    from pipelines.rl.experiments import RunEvals, TimedEval, chain_wall_clock, time_to_hold

    start = 1_000_000
    run = RunEvals("a", start, [(100, -21.0, start + 60_000), (200, 19.0, start + 125_500),
                                (300, 18.0, start + 190_000)])
    curve = chain_wall_clock([run])
    assert curve == [TimedEval(100, -21.0, 60.0, "a"), TimedEval(200, 19.0, 125.5, "a"),
                     TimedEval(300, 18.0, 190.0, "a")]
    assert time_to_hold(curve, 18) == TimedEval(200, 19.0, 125.5, "a")
    assert time_to_hold(curve, 19) is None  # 18 at the end: not held
    assert chain_wall_clock([]) == [] and time_to_hold([], 18) is None


def test_a_resumed_run_continues_the_clock_from_its_checkpoint() -> None:
    from pipelines.rl.experiments import RunEvals, chain_wall_clock, time_to_hold

    # Killed after evaluating 100 and 200 (its last checkpoint at 200) and part way to 300.
    killed = RunEvals("a", 0, [(200, 18.0, 130_000), (100, -21.0, 60_000)])  # any order
    # Resumed an hour later from the checkpoint at 200; 20 s to start, 60 s per evaluation.
    resumed = RunEvals("b", 3_600_000, [(300, -5.0, 3_680_000), (400, 20.0, 3_740_000)])
    # Given newest first: the chain orders runs by start.
    curve = chain_wall_clock([resumed, killed])
    assert [(e.env_steps, e.wall_s, e.run_id) for e in curve] == [
        (100, 60.0, "a"), (200, 130.0, "a"), (300, 210.0, "b"), (400, 270.0, "b")]
    held = time_to_hold(curve, 18)
    assert held is not None and (held.env_steps, held.wall_s) == (400, 270.0)


def test_a_rerun_replaces_the_evaluations_from_its_first_on() -> None:
    from pipelines.rl.experiments import RunEvals, chain_wall_clock

    old = RunEvals("a", 0, [(100, -21.0, 50_000), (200, -20.0, 100_000),
                            (300, -19.0, 150_000)])
    resumed_early = RunEvals("b", 500_000, [(200, -18.0, 540_000)])  # from the 100 checkpoint
    not_evaluated_yet = RunEvals("c", 900_000, [])
    curve = chain_wall_clock([old, resumed_early, not_evaluated_yet])
    assert [(e.env_steps, e.eval_return, e.wall_s) for e in curve] == [
        (100, -21.0, 50.0), (200, -18.0, 90.0)]  # the old 300 went with the old 200
    fresh = RunEvals("d", 1_000_000, [(100, -21.0, 1_040_000)])  # a run from scratch
    assert [(e.env_steps, e.wall_s, e.run_id) for e in chain_wall_clock([old, fresh])] == [
        (100, 40.0, "d")]
