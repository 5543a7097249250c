"""`tune.scheduler` (none, asha, pbt): what the config accepts and refuses, and the pure parts
of the sweep that turn it into Tune's ASHA and PBT (no Ray started)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ray import tune

from pipelines.core.config import ConfigError, load_config
from pipelines.tune.sweep import clamp, pbt_mutations, run_sweep

TWO_LRS = "tune.params={lr: [0.0001, 0.0005]}"


def test_no_scheduler_by_default() -> None:
    spec = load_config("laptop").tune
    assert spec.scheduler == "none" and spec.trials == 3  # TUNE_GRIDS["rl"]: three lrs


@pytest.mark.parametrize("sets", [
    ["tune.scheduler=asha", "tune.iterations=3", "tune.grace_period=1"],
    ["tune.scheduler=asha", "tune.iterations=3", "tune.grace_period=3"],
    ["tune.scheduler=pbt", TWO_LRS, "tune.iterations=3", "tune.perturbation_interval=2"],
    ["tune.scheduler=pbt", "tune.params={lr: [0.0001, 0.0005], arch: [small_cnn]}",
     "tune.num_samples=2", "tune.iterations=3", "tune.perturbation_interval=1"],
    ["tune.scheduler=pbt"],  # laptop: three lrs, interval 10 within rl.iterations=50
])
def test_scheduler_settings_that_can_act_are_accepted(sets: list[str]) -> None:
    base = "laptop" if sets == ["tune.scheduler=pbt"] else "smoke"
    assert load_config(base, sets=sets).tune.scheduler in ("asha", "pbt")


@pytest.mark.parametrize(("sets", "message"), [
    (["tune.target=active", "tune.scheduler=asha"],
     "tune.scheduler: asha needs the metric every iteration, but an active-learning trial "
     "reports once"),
    (["tune.target=active", "tune.scheduler=pbt"], "use scheduler=none"),
    (["tune.scheduler=pbt", "tune.params={lr: [0.0001]}", "tune.iterations=3",
      "tune.perturbation_interval=1"], "pbt needs a population of at least 2 trials"),
    (["tune.scheduler=pbt", "tune.params={train_batch_size: [128, 256]}",
      "tune.iterations=3", "tune.perturbation_interval=1"],
     "pbt needs a swept field it can mutate in a running trial"),
    (["tune.scheduler=pbt", "tune.params={lr: [0.0001]}", "tune.num_samples=4",
      "tune.iterations=3", "tune.perturbation_interval=1"], "with at least two values"),
    (["tune.scheduler=asha", "tune.iterations=3", "tune.grace_period=4"],
     "tune.grace_period: 4 exceeds the 3 iterations of a trial"),
    (["tune.scheduler=asha"], "tune.grace_period: 10 exceeds the 1 iterations"),  # smoke
    (["tune.scheduler=pbt", TWO_LRS, "tune.iterations=3", "tune.perturbation_interval=3"],
     "tune.perturbation_interval: 3 is not below the 3 iterations"),
    (["tune.scheduler=asha", "tune.iterations=3", "tune.grace_period=1",
      "tune.reduction_factor=1"], "tune.reduction_factor"),
    (["tune.scheduler=hyperband"], "tune.scheduler"),
    (["tune.grace_period=0"], "tune.grace_period"),
])
def test_scheduler_settings_that_cannot_act_are_refused(sets: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config("smoke", sets=sets)


def test_budget_against_rl_iterations_is_checked_before_ray_starts(tmp_path: Path) -> None:
    # tune.iterations unset: trials run rl.iterations, known only to the whole config.
    cfg = load_config("smoke", sets=["tune.iterations=null", "rl.iterations=5",
                                     "tune.scheduler=asha"],
                      runtime={"work_dir": tmp_path})
    with pytest.raises(ConfigError, match=r"tune\.grace_period: 10 exceeds the 5 iterations.*"
                                          r"rl\.iterations"):
        run_sweep(cfg, "no-run")


def test_pbt_mutations_come_from_the_grid() -> None:
    mutations, bounds = pbt_mutations({"lr": (5e-4, 1e-4, 2.5e-4), "num_epochs": (4, 2),
                                       "entropy_coeff": (0, 0.01)})
    lr, entropy = mutations["lr"], mutations["entropy_coeff"]
    assert isinstance(lr, tune.search.sample.Float)
    assert isinstance(lr.sampler, tune.search.sample.LogUniform)  # all positive: log scale
    assert (lr.lower, lr.upper) == (1e-4, 5e-4)
    assert isinstance(entropy.sampler, tune.search.sample.Uniform)  # 0 has no log
    assert mutations["num_epochs"] == [2, 4]  # integers: neighbouring grid values
    assert bounds == {"lr": (1e-4, 5e-4), "entropy_coeff": (0.0, 0.01)}


def test_pbt_steps_are_held_inside_the_grid_range() -> None:
    bounds = {"gamma": (0.95, 0.99), "lr": (1e-4, 5e-4)}
    config = {"gamma": 0.99 * 1.2, "lr": 1e-4 * 0.8, "num_epochs": 4}
    assert clamp(config, bounds) == {"gamma": 0.99, "lr": 1e-4, "num_epochs": 4}
    assert clamp({"gamma": 0.97}, bounds) == {"gamma": 0.97}
