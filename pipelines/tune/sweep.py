"""`arcadelab tune`: a Ray Tune grid search over the fields of one config section.

`tune.target` picks what a trial is: `rl` (the RL stage's algorithm, `pipelines/tune/rl_trials.py`)
or `active` (pool-based active-learning loops, `pipelines/tune/active_trials.py`). Every trial's
config is validated like any other, so a bad value fails that trial with the config's own
message; Tune's `MLflowLoggerCallback` makes every trial a run nested under the tune stage run.

`tune.scheduler` (RL only: an RL trial reports every iteration) adds Tune's ASHA, which stops
trials that trail at each rung, or PBT, which lets a trailing trial clone a leading one's
checkpoint and mutate the swept loss and optimiser fields (`TuneConfig.pbt_fields`).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import mlflow
import ray
from ray import tune
from ray.air.integrations.mlflow import MLflowLoggerCallback
from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining, TrialScheduler

from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig, ConfigError, TuneConfig


@dataclass(frozen=True)
class TuneResult:
    trials: int
    best_params: dict[str, Any]
    best_metric: float | None
    metric: str
    scheduler: str = "none"
    stopped_early: int = 0  # asha: trials stopped before their last iteration
    perturbations: int = 0  # pbt: exploits (a trial restarted from another's checkpoint)

    def describe(self) -> str:
        value = "n/a" if self.best_metric is None else f"{self.best_metric:.2f}"
        extra = {"asha": f" ({self.stopped_early} stopped early by ASHA)",
                 "pbt": f" ({self.perturbations} PBT perturbations)"}.get(self.scheduler, "")
        return (f"{self.trials} trials{extra}; best {self.metric} {value} with "
                f"{self.best_params}")


def _trial(cfg: ArcadeConfig, data_path: Path | None
           ) -> tuple[Callable[..., None], list[dict[str, float]]]:
    """The trainable and the resources one trial reserves (Tune puts the trial's own Ray
    tasks and actors into its placement group, so their CPUs must be in it)."""
    if cfg.tune.target == "rl":
        from pipelines.tune.rl_trials import rl_trial

        trial = tune.with_parameters(rl_trial, base=cfg)
        return trial, [{"CPU": 1}] + [{"CPU": 1}] * cfg.rl.num_env_runners
    from pipelines.tune.active_trials import active_trial, encode_once

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


def pbt_mutations(mutable: dict[str, tuple[Any, ...]]
                  ) -> tuple[dict[str, Any], dict[str, tuple[float, float]]]:
    """PBT's `hyperparam_mutations` from the swept values, and the range each continuous one
    is held to. A field swept over floats is continuous: PBT scales it by 0.8 or 1.2, or
    resamples it (log-uniformly when every value is positive) between the grid's least and
    greatest value. Any other (integers) is discrete: PBT moves it to a neighbouring grid value
    or resamples one."""
    mutations: dict[str, Any] = {}
    bounds: dict[str, tuple[float, float]] = {}
    for key, values in mutable.items():
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric and any(isinstance(v, float) for v in values):
            lo, hi = float(min(values)), float(max(values))
            mutations[key] = tune.loguniform(lo, hi) if lo > 0 else tune.uniform(lo, hi)
            bounds[key] = (lo, hi)
        else:
            mutations[key] = sorted(set(values)) if numeric else list(dict.fromkeys(values))
    return mutations, bounds


def clamp(config: dict[str, Any], bounds: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """PBT's 1.2x steps leave the grid's range (gamma 0.99 -> 1.19); hold them inside, where
    every value is one the config accepts."""
    return config | {k: min(max(config[k], lo), hi) for k, (lo, hi) in bounds.items()
                     if k in config}


def _scheduler(spec: TuneConfig, iterations: int) -> TrialScheduler | None:
    # metric and mode stay in tune.TuneConfig: Ray refuses them in both places.
    if spec.scheduler == "asha":
        return ASHAScheduler(time_attr="training_iteration", max_t=iterations,
                             grace_period=spec.grace_period,
                             reduction_factor=spec.reduction_factor)
    if spec.scheduler == "pbt":
        mutations, bounds = pbt_mutations(spec.mutable)
        return PopulationBasedTraining(
            time_attr="training_iteration", perturbation_interval=spec.perturbation_interval,
            hyperparam_mutations=mutations,
            custom_explore_fn=functools.partial(clamp, bounds=bounds))
    return None


class _Clones(tune.Callback):
    """Counts PBT's exploits per trial (by its directory, which a Tune `Result` carries too):
    a trial (re)started from a checkpoint outside its own directory cloned another trial.
    Restarts from its own checkpoints (PBT time-sharing the CPUs) do not count."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any
                       ) -> None:
        checkpoint = trial.checkpoint
        if checkpoint is not None and not PurePosixPath(checkpoint.path).is_relative_to(
                PurePosixPath(trial.path)):
            self.counts[trial.path] += 1


def run_sweep(cfg: ArcadeConfig, parent_run_id: str, data_path: Path | None = None
              ) -> TuneResult:
    """Run the grid of `cfg.tune`; trials become MLflow runs under `parent_run_id`."""
    spec = cfg.tune
    iterations = spec.iterations or cfg.rl.iterations
    problem = spec.budget_problem(iterations) if spec.target == "rl" else None
    if problem:
        raise ConfigError(f"tune.{problem} (tune.iterations is unset: trials run "
                          "rl.iterations)")
    trainable, bundles = _trial(cfg, data_path)
    _check_fits(bundles, cfg)
    continuous = pbt_mutations(spec.mutable)[1] if spec.scheduler == "pbt" else {}
    # A continuous field's grid values start as floats: PBT rounds a mutated int back to int.
    space: dict[str, Any] = {k: tune.grid_search([float(x) for x in v] if k in continuous
                                                 else list(v))
                             for k, v in spec.grid.items()}
    experiment = mlflow.get_run(parent_run_id).info.experiment_id
    clones = _Clones()
    tuner = tune.Tuner(
        tune.with_resources(trainable, tune.PlacementGroupFactory(bundles)),
        param_space=space,
        tune_config=tune.TuneConfig(metric=spec.objective, mode=spec.mode,
                                    num_samples=spec.num_samples,
                                    # PBT's population is every trial at once: a limit
                                    # would hold the rest back until the first ends. PBT
                                    # time-shares the cluster itself, pausing at checkpoints.
                                    max_concurrent_trials=None if spec.scheduler == "pbt"
                                    else spec.max_concurrent_trials,
                                    scheduler=_scheduler(spec, iterations)),
        run_config=tune.RunConfig(
            name=f"tune-{parent_run_id[:8]}",
            storage_path=str((cfg.runtime.work_dir / "tune").resolve()),
            callbacks=[MLflowLoggerCallback(
                tracking_uri=tracking.tracking_uri(cfg),
                experiment_name=mlflow.get_experiment(experiment).name,
                tags={"mlflow.parentRunId": parent_run_id, "arcadelab.stage": "tune-trial",
                      "arcadelab.tune_target": spec.target},
                # A PBT clone restarts with a mutated config, and MLflow refuses to change a
                # logged param: log each trial's config once, the one it ended with.
                log_params_on_trial_end=spec.scheduler == "pbt",
            ), clones],
            verbose=1,
        ),
    )
    grid = tuner.fit()
    best = _best(grid)
    value = best.metrics.get(spec.objective) if best and best.metrics else None
    params = dict(best.config) if best else {}
    table = _trial_table(grid, list(spec.grid), spec, iterations, clones.counts)
    stopped = sum(bool(row.get("stopped_early")) for row in table)
    perturbed = sum(clones.counts.values())
    tracking.log_metrics({"tune/trials": len(grid), "tune/errors": grid.num_errors,
                          **({f"tune/best_{spec.objective.split('/')[-1]}": value} if value
                             is not None else {}),
                          **({"tune/stopped_early": stopped} if spec.scheduler == "asha"
                             else {}),
                          **({"tune/perturbations": perturbed} if spec.scheduler == "pbt"
                             else {})})
    mlflow.log_dict({"target": spec.target, "scheduler": spec.scheduler,
                     "best_params": params, "metric": spec.objective, "best_value": value,
                     "trials": table}, "tune/best.json")
    return TuneResult(len(grid), params, value, spec.objective, spec.scheduler, stopped,
                      perturbed)


def _best(grid: Any) -> Any:
    """The best trial's result; None when no trial finished or every one's objective is NaN
    (no Pong episode ended within its iterations), which Tune reports as a RuntimeError."""
    if not grid.num_terminated:
        return None
    try:
        return grid.get_best_result()
    except RuntimeError:
        return None


def _trial_table(grid: Any, params: list[str], spec: TuneConfig, iterations: int,
                 clones: Counter[str]) -> list[dict[str, Any]]:
    """Each trial's parameters (under PBT: the ones it ended with), last reported metrics,
    iterations run and, per scheduler, whether ASHA stopped it early or how many times PBT
    made it clone another trial, for the tune run's JSON."""
    rows = []
    for result in grid:
        config = result.config or {}
        metrics = result.metrics or {}
        done = metrics.get("training_iteration")
        row = {**{k: config.get(k) for k in params},
               **{k: v for k, v in metrics.items() if "/" in k and isinstance(v, int | float)},
               "iterations": done,
               "error": None if result.error is None else str(result.error)[:200]}
        if spec.scheduler == "asha":
            row["stopped_early"] = (result.error is None and done is not None
                                    and done < iterations)
        if spec.scheduler == "pbt":
            # By path: a clone that had nothing left to train ends on its donor's last
            # result, trial_id included.
            row["perturbations"] = clones[result.path]
        rows.append(row)
    return rows
