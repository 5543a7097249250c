"""RL trials for `arcadelab tune` (`tune.target=rl`, `pipelines/tune/sweep.py`): the RL stage's
algorithm from the trial's config, reporting `rl/…` metrics every iteration, so ASHA can stop
a trial and PBT can rank it at any iteration.

Under PBT a trial also saves its algorithm every `tune.perturbation_interval` iterations (a
Tune checkpoint). PBT restarts a trial from a checkpoint both to time-share CPUs (its own) and
to exploit a stronger trial (that trial's, with a mutated config): the trial restores weights,
optimiser moments, iteration and env-step counters, and the curriculum task from it.

A `frozen` / `finetune` trial (`rl.transfer`, set or swept) starts from the registry encoder, the
version the sweep's flow run pinned for its alias (`runtime.pins`), as the RL stage does.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import torch
from ray import tune
from ray.rllib.algorithms import Algorithm

from models.encoder import EncoderSpec
from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig
from pipelines.core.model_refs import pinned
from pipelines.rl.experiments import with_rl
from pipelines.rl.train import (
    _curriculum_state,
    build_algorithm,
    iteration_metrics,
    pretrained_encoder,
)

STATE_FILE = "trial.json"  # beside the algorithm in a trial checkpoint


def trial_encoder(cfg: ArcadeConfig) -> tuple[EncoderSpec, dict[str, torch.Tensor]] | None:
    """The pretrained (spec, weights) a `frozen` / `finetune` trial starts from (None:
    scratch), checked against the env like the RL stage's (RLError naming the field). A trial
    runs in its own process, outside the stage's context: the flow run's pins go with it."""
    if cfg.rl.transfer == "scratch":
        return None
    with pinned(cfg.runtime.pins):
        spec, weights, _ = pretrained_encoder(cfg)
    return spec, weights


def rl_trial(params: dict[str, Any], base: ArcadeConfig) -> None:
    mlflow.set_tracking_uri(tracking.tracking_uri(base))  # a transfer encoder resolves there
    cfg = with_rl(base, **params)
    if base.tune.iterations:
        cfg = with_rl(cfg, iterations=base.tune.iterations)
    spec = base.tune
    encoder = trial_encoder(cfg)  # before any env starts: a bad alias fails the trial at once
    state = _curriculum_state(cfg)
    checkpoint = tune.get_checkpoint()
    with checkpoint.as_directory() if checkpoint else contextlib.nullcontext() as restored:
        saved = json.loads((Path(restored) / STATE_FILE).read_text()) if restored else {}
        if saved.get("iteration", 0) >= cfg.rl.iterations:
            return  # paused after its last report, or cloned a finished trial
        if state:
            state.index = saved.get("curriculum_task", 0)
        algo = build_algorithm(cfg, encoder, state)
        if restored:
            restore_keeping_lr(algo, Path(restored) / "algo")
    try:
        while algo.iteration < cfg.rl.iterations:
            metrics = iteration_metrics(algo.train(), evaluated=False)
            report = ({k: v for k, v in metrics.items() if math.isfinite(v)}
                      | {"env_steps": metrics["rl/env_steps_sampled"],
                         # Tune wants the objective in every report; NaN (no episode has
                         # ended yet, e.g. early Pong iterations) is skipped by its ranking.
                         spec.objective: metrics.get(spec.objective, math.nan)})
            if spec.scheduler == "pbt" and algo.iteration % spec.perturbation_interval == 0:
                # PBT decides at these iterations only; a clone or a pause restores this one.
                with tempfile.TemporaryDirectory() as tmp:
                    algo.save_to_path(str(Path(tmp) / "algo"))
                    (Path(tmp) / STATE_FILE).write_text(json.dumps(
                        {"iteration": algo.iteration,
                         "curriculum_task": state.index if state else 0}))
                    tune.report(report, checkpoint=tune.Checkpoint.from_directory(tmp))
            else:
                tune.report(report)
    finally:
        algo.stop()


def _optimizers(learner: Any) -> Iterator[tuple[str, Any]]:
    for module_id, _ in learner.module.items():  # a MultiRLModule has no __iter__
        for name, opt in learner.get_optimizers_for_module(module_id):
            yield f"{module_id}/{name}", opt


def _optimizer_lrs(learner: Any) -> dict[str, list[float]]:
    return {key: [g["lr"] for g in opt.param_groups] for key, opt in _optimizers(learner)}


def _set_optimizer_lrs(learner: Any, lrs: dict[str, list[float]]) -> None:
    for key, opt in _optimizers(learner):
        for group, lr in zip(opt.param_groups, lrs[key], strict=True):
            group["lr"] = lr


def _on_learners(algo: Algorithm, func: Any, **kwargs: Any) -> list[Any]:
    results = []
    for call in algo.learner_group.foreach_learner(func, **kwargs):
        if not call.ok:  # a remote learner's error comes back as a value
            raise call.get()
        results.append(call.get())
    return results


def restore_keeping_lr(algo: Algorithm, path: Path) -> None:
    """Restore `algo` from `path` but keep its own learning rates: the checkpoint's optimiser
    state carries its writer's, which RLlib's lr schedule replaces only after the next update,
    so a PBT clone would otherwise train one more iteration at the donor's rate."""
    fresh = _on_learners(algo, _optimizer_lrs)[0]
    algo.restore_from_path(str(path))
    _on_learners(algo, _set_optimizer_lrs, lrs=fresh)
