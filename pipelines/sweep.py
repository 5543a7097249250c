"""`arcadelab tune`: a Ray Tune grid search over the fields of one config section.

`tune.target` picks what a trial is: `rl` (the RL stage's algorithm, `pipelines/rl_tune.py`)
or `active` (pool-based active-learning loops, `pipelines/active_tune.py`). Every trial's
config is validated like any other, so a bad value fails that trial with the config's own
message; Tune's `MLflowLoggerCallback` makes every trial a run nested under the tune stage run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import ray
from ray import tune
from ray.air.integrations.mlflow import MLflowLoggerCallback

from pipelines import tracking
from pipelines.config import ArcadeConfig, ConfigError


@dataclass(frozen=True)
class TuneResult:
    trials: int
    best_params: dict[str, Any]
    best_metric: float | None
    metric: str

    def describe(self) -> str:
        value = "n/a" if self.best_metric is None else f"{self.best_metric:.2f}"
        return f"{self.trials} trials; best {self.metric} {value} with {self.best_params}"


def _trial(cfg: ArcadeConfig, data_path: Path | None
           ) -> tuple[Callable[..., None], list[dict[str, float]]]:
    """The trainable and the resources one trial reserves (Tune puts the trial's own Ray
    tasks and actors into its placement group, so their CPUs must be in it)."""
    if cfg.tune.target == "rl":
        from pipelines.rl_tune import rl_trial

        trial = tune.with_parameters(rl_trial, base=cfg)
        return trial, [{"CPU": 1}] + [{"CPU": 1}] * cfg.rl.num_env_runners
    from pipelines.active_tune import active_trial, encode_once

    if data_path is None:
        raise ConfigError("tune.target=active needs the dataset: run the data stage first")
    encode_once(cfg, data_path)
    # One bundle for the loop, one for its pool-scoring tasks (they queue on it).
    return tune.with_parameters(active_trial, base=cfg, data_path=str(data_path)), \
        [{"CPU": 1}, {"CPU": 1}]


def _check_fits(bundles: list[dict[str, float]], cfg: ArcadeConfig) -> None:
    need = sum(b.get("CPU", 0) for b in bundles)
    have = ray.cluster_resources().get("CPU", 0)
    if need > have:
        hint = (" (e.g. --set rl.num_env_runners=0: env runner and learner then share the "
                "trial's process)" if cfg.tune.target == "rl" else "")
        raise ConfigError(f"tune: one trial needs {need:g} CPUs but this Ray cluster has "
                          f"{have:g}; shrink the trial{hint} or join a bigger cluster")


def run_sweep(cfg: ArcadeConfig, parent_run_id: str, data_path: Path | None = None
              ) -> TuneResult:
    """Run the grid of `cfg.tune`; trials become MLflow runs under `parent_run_id`."""
    spec = cfg.tune
    trainable, bundles = _trial(cfg, data_path)
    _check_fits(bundles, cfg)
    space: dict[str, Any] = {k: tune.grid_search(list(v)) for k, v in spec.grid.items()}
    experiment = mlflow.get_run(parent_run_id).info.experiment_id
    tuner = tune.Tuner(
        tune.with_resources(trainable, tune.PlacementGroupFactory(bundles)),
        param_space=space,
        tune_config=tune.TuneConfig(metric=spec.objective, mode=spec.mode,
                                    num_samples=spec.num_samples,
                                    max_concurrent_trials=spec.max_concurrent_trials),
        run_config=tune.RunConfig(
            name=f"tune-{parent_run_id[:8]}",
            storage_path=str((cfg.runtime.work_dir / "tune").resolve()),
            callbacks=[MLflowLoggerCallback(
                tracking_uri=tracking.tracking_uri(cfg),
                experiment_name=mlflow.get_experiment(experiment).name,
                tags={"mlflow.parentRunId": parent_run_id, "arcadelab.stage": "tune-trial",
                      "arcadelab.tune_target": spec.target},
            )],
            verbose=1,
        ),
    )
    grid = tuner.fit()
    best = grid.get_best_result() if grid.num_terminated else None
    value = best.metrics.get(spec.objective) if best and best.metrics else None
    params = dict(best.config) if best else {}
    tracking.log_metrics({"tune/trials": len(grid), "tune/errors": grid.num_errors,
                          **({f"tune/best_{spec.objective.split('/')[-1]}": value} if value
                             is not None else {})})
    mlflow.log_dict({"target": spec.target, "best_params": params, "metric": spec.objective,
                     "best_value": value, "trials": _trial_table(grid, list(spec.grid))},
                    "tune/best.json")
    return TuneResult(len(grid), params, value, spec.objective)


def _trial_table(grid: Any, params: list[str]) -> list[dict[str, Any]]:
    """Each trial's parameters and last reported metrics, for the tune run's JSON."""
    rows = []
    for result in grid:
        config = result.config or {}
        metrics = result.metrics or {}
        rows.append({**{k: config.get(k) for k in params},
                     **{k: v for k, v in metrics.items()
                        if "/" in k and isinstance(v, int | float)},
                     "error": None if result.error is None else str(result.error)[:200]})
    return rows
