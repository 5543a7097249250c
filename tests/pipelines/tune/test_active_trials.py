"""The pure parts of active-learning tune trials: the trial's config and its objective."""

from __future__ import annotations

import math

import pytest

from pipelines.core.config import TUNE_GRIDS, ConfigError, load_config
from pipelines.tune.active_trials import trial_config, trial_metrics


def test_trial_config_adds_random_and_turns_off_the_stream_and_the_person() -> None:
    base = load_config("smoke", sets=["active.oracle=human", "active.stream=true"])
    cfg = trial_config(base, {"strategies": "margin", "batch_size": 40})
    assert cfg.active.strategies == ("random", "margin")
    assert cfg.active.batch_size == 40
    assert cfg.active.stream is False and cfg.active.oracle == "ram"
    assert trial_config(base, {"strategies": ["random"]}).active.strategies == ("random",)


def test_a_bad_value_fails_the_trial_with_the_config_message() -> None:
    with pytest.raises(ConfigError, match="strategies"):
        trial_config(load_config("smoke"), {"strategies": "most_confused"})


def test_the_objective_is_the_best_savings_and_zero_when_the_target_is_never_reached() -> None:
    final = {"random": 0.5, "margin": 0.7, "bald": 0.6}
    m = trial_metrics({"margin": 1.8, "bald": math.nan}, {"random": 80.0, "margin": 44.0,
                      "bald": None}, final)
    assert m["al/label_savings_vs_random"] == 1.8
    assert m["al/labels_to_target"] == 44.0 and m["al/reached_target"] == 1.0
    assert m["al/final_f1"] == pytest.approx(0.65)
    none = trial_metrics({"margin": math.nan}, {"random": 80.0, "margin": None},
                         {"random": 0.5, "margin": 0.4})
    assert none["al/label_savings_vs_random"] == 0.0 and none["al/reached_target"] == 0.0
    assert "al/labels_to_target" not in none


def test_each_target_has_a_default_grid_of_its_own_fields() -> None:
    cfg = load_config("smoke", sets=["tune.target=active"])
    assert cfg.tune.grid == TUNE_GRIDS["active"] and cfg.tune.objective.startswith("al/")
    assert load_config("smoke").tune.grid == TUNE_GRIDS["rl"]
