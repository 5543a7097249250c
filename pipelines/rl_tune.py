"""RL trials for `arcadelab tune` (`tune.target=rl`, `pipelines/sweep.py`): the RL stage's
algorithm from the trial's config, reporting `rl/…` metrics every iteration."""

from __future__ import annotations

import math
from typing import Any

import mlflow
from ray import tune

from pipelines import tracking
from pipelines.config import ArcadeConfig
from pipelines.rl_experiments import with_rl
from pipelines.rl_train import _curriculum_state, build_algorithm, iteration_metrics


def rl_trial(params: dict[str, Any], base: ArcadeConfig) -> None:
    mlflow.set_tracking_uri(tracking.tracking_uri(base))  # a transfer encoder resolves there
    cfg = with_rl(base, **params)
    if base.tune.iterations:
        cfg = with_rl(cfg, iterations=base.tune.iterations)
    algo = build_algorithm(cfg, None, _curriculum_state(cfg))
    try:
        for _ in range(cfg.rl.iterations):
            metrics = iteration_metrics(algo.train(), evaluated=False)
            tune.report({k: v for k, v in metrics.items() if math.isfinite(v)}
                        | {"env_steps": metrics["rl/env_steps_sampled"]})
    finally:
        algo.stop()
