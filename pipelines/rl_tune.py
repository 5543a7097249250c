"""`arcadelab tune`: a Ray Tune grid search over RL hyperparameters.

Each trial builds the same algorithm as the RL stage from a config validated like any other
(so a bad value fails the trial with the config's own message) and reports `rl/…` metrics;
Tune's `MLflowLoggerCallback` makes every trial a run nested under the flow's tune stage run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mlflow
from ray import tune
from ray.air.integrations.mlflow import MLflowLoggerCallback

from pipelines import tracking
from pipelines.config import ArcadeConfig
from pipelines.rl_experiments import with_rl
from pipelines.rl_train import _curriculum_state, build_algorithm, iteration_metrics


@dataclass(frozen=True)
class TuneResult:
    trials: int
    best_params: dict[str, Any]
    best_metric: float | None
    metric: str

    def describe(self) -> str:
        value = "n/a" if self.best_metric is None else f"{self.best_metric:.2f}"
        return f"{self.trials} trials; best {self.metric} {value} with {self.best_params}"


def _trainable(params: dict[str, Any], base: ArcadeConfig) -> None:
    cfg = with_rl(base, **params)
    algo = build_algorithm(cfg, None, _curriculum_state(cfg))
    try:
        for _ in range(cfg.rl.iterations):
            metrics = iteration_metrics(algo.train(), evaluated=False)
            tune.report({k: v for k, v in metrics.items() if math.isfinite(v)}
                        | {"env_steps": metrics["rl/env_steps_sampled"]})
    finally:
        algo.stop()


def tune_rl(cfg: ArcadeConfig, parent_run_id: str) -> TuneResult:
    """Run the grid of `cfg.tune`; trials become MLflow runs under `parent_run_id`."""
    spec = cfg.tune
    base = with_rl(cfg, iterations=spec.iterations or cfg.rl.iterations)
    space: dict[str, Any] = {k: tune.grid_search(list(v)) for k, v in spec.params.items()}
    bundles = [{"CPU": 1}] + [{"CPU": 1}] * base.rl.num_env_runners
    experiment = mlflow.get_run(parent_run_id).info.experiment_id
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(_trainable, base=base),
                            tune.PlacementGroupFactory(bundles)),
        param_space=space,
        tune_config=tune.TuneConfig(metric=spec.metric, mode=spec.mode,
                                    num_samples=spec.num_samples,
                                    max_concurrent_trials=spec.max_concurrent_trials),
        run_config=tune.RunConfig(
            name=f"tune-{parent_run_id[:8]}",
            storage_path=str((cfg.runtime.work_dir / "tune").resolve()),
            callbacks=[MLflowLoggerCallback(
                tracking_uri=tracking.tracking_uri(cfg),
                experiment_name=mlflow.get_experiment(experiment).name,
                tags={"mlflow.parentRunId": parent_run_id, "arcadelab.stage": "tune-trial"},
            )],
            verbose=1,
        ),
    )
    grid = tuner.fit()
    best = grid.get_best_result() if grid.num_terminated else None
    value = best.metrics.get(spec.metric) if best and best.metrics else None
    params = dict(best.config) if best else {}
    tracking.log_metrics({"tune/trials": len(grid), "tune/errors": grid.num_errors,
                          **({f"tune/best_{spec.metric.split('/')[-1]}": value} if value
                             is not None else {})})
    mlflow.log_dict({"best_params": params, "metric": spec.metric, "best_value": value},
                    "tune/best.json")
    return TuneResult(len(grid), params, value, spec.metric)
