"""Pure parts of the RL experiments: the transfer metric, the arms' configs, tune validation."""

from __future__ import annotations

import math
import re

import pytest

from pipelines.config import ConfigError, load_config
from pipelines.rl_experiments import curriculum_arms, steps_to_return, with_rl


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
    assert set(arms) == {"curriculum", "no_curriculum"}
    with_cur, without = arms["curriculum"].rl, arms["no_curriculum"].rl
    assert with_cur.iterations == without.iterations
    assert with_cur.curriculum.tasks == cfg.rl_curriculum.tasks
    assert without.curriculum.tasks == (cfg.rl_curriculum.tasks[-1],)
    assert with_cur.env_backend == without.env_backend == "gymnasium"


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
    from pipelines.rl_experiments import holds_from

    steps = [10, 20, 30, 40, 50]
    assert holds_from(steps, [-21, 19, 5, 18, 20], 18) == 40  # a lucky 19 at 20 does not count
    assert holds_from(steps, [18, 19, 20, 21, 21], 18) == 10
    assert holds_from(steps, [18, 19, 20, 21, 17], 18) is None
    assert holds_from(steps, [18, float("nan"), 20, 21, 21], 18) == 30  # no score: not held
    assert holds_from([], [], 0) is None
    with pytest.raises(ValueError, match="2 steps but 1 returns"):
        holds_from([1, 2], [0.0], 0)
