"""RL experiments over the same budget and seed: transfer (scratch vs frozen vs fine-tuned
pretrained encoder), curriculum (with vs without) and algorithms (PPO vs REINFORCE), each arm
a nested MLflow run, the comparison in the parent stage run: one overlaid learning-curve plot
and summary metrics.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import mlflow

from pipelines.core import registry
from pipelines.core.charts import line_chart
from pipelines.core.config import ArcadeConfig, with_section
from pipelines.core.game_fit import single_variant
from pipelines.core.tracking import log_metrics
from pipelines.rl.train import RLError, RLResult

log = logging.getLogger("arcadelab")


def steps_to_return(steps: Sequence[float], returns: Sequence[float],
                    threshold: float) -> float | None:
    """Env steps at the first point of a learning curve at or above `threshold` (None: never).
    Pure, so the transfer metric is the same number a reader gets from the plotted curve."""
    if len(steps) != len(returns):
        raise ValueError(f"curve has {len(steps)} steps but {len(returns)} returns")
    for s, r in zip(steps, returns, strict=True):
        if not math.isnan(r) and r >= threshold:
            return float(s)
    return None


def holds_from(steps: Sequence[float], returns: Sequence[float],
               threshold: float) -> float | None:
    """Env steps from which every later point of a curve is at or above `threshold` (None:
    never): one lucky evaluation is not learning, a target held is."""
    if len(steps) != len(returns):
        raise ValueError(f"curve has {len(steps)} steps but {len(returns)} returns")
    last_below = max((s for s, r in zip(steps, returns, strict=True)
                      if math.isnan(r) or r < threshold), default=None)
    after = [s for s in steps if last_below is None or s > last_below]
    return float(after[0]) if after else None


class RunEvals(NamedTuple):
    """One run's greedy evaluations as MLflow holds them."""
    run_id: str
    start_ms: int  # the run's start_time
    evals: Sequence[tuple[float, float, int]]  # (env steps, eval return, timestamp ms)


class TimedEval(NamedTuple):
    """One evaluation of a learning curve, with the wall-clock seconds it took to get there."""
    env_steps: float
    eval_return: float
    wall_s: float
    run_id: str


def chain_wall_clock(runs: Sequence[RunEvals]) -> list[TimedEval]:
    """One learning curve, with wall seconds, out of a run and its resumes (any order).

    An evaluation's wall seconds are its timestamp minus its run's start. A resumed run starts
    again from the checkpoint written at an evaluation: its evaluations replace every earlier
    one from its first on, and its clock continues from the last evaluation before that. So
    the time a killed run spent past its last checkpoint is not counted; its restart is."""
    curve: list[TimedEval] = []
    for run in sorted(runs, key=lambda r: r.start_ms):
        evals = sorted(run.evals, key=lambda e: e[0])
        if not evals:
            continue
        curve = [e for e in curve if e.env_steps < evals[0][0]]
        offset = curve[-1].wall_s if curve else 0.0
        curve += [TimedEval(float(s), float(v), offset + (t - run.start_ms) / 1000, run.run_id)
                  for s, v, t in evals]
    return curve


def time_to_hold(curve: Sequence[TimedEval], threshold: float) -> TimedEval | None:
    """The evaluation of a curve (in env-step order) from which every later one is at or above
    `threshold`, with its env steps and wall seconds (None: never)."""
    steps = holds_from([e.env_steps for e in curve], [e.eval_return for e in curve], threshold)
    return None if steps is None else next(e for e in curve if e.env_steps == steps)


def threshold_label(x: float) -> str:
    return f"{x:g}"


def with_rl(cfg: ArcadeConfig, **rl: object) -> ArcadeConfig:
    """A copy of `cfg` with RL fields replaced, validated like any other config."""
    return with_section(cfg, "rl", **rl)


@dataclass(frozen=True)
class ExperimentResult:
    name: str
    arms: dict[str, RLResult]
    summary: dict[str, float]
    skipped: str = ""  # why the experiment did not run on this game (empty: it ran)

    def describe(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        parts = []
        for arm, res in self.arms.items():
            ret = "n/a" if res.episode_return_mean is None else f"{res.episode_return_mean:.1f}"
            parts.append(f"{arm} {ret}")
        return "final return " + ", ".join(parts)


def transfer_arms(cfg: ArcadeConfig) -> dict[str, ArcadeConfig]:
    """One config per mode; scratch uses the pretrained encoder's architecture and size, so
    the arms differ only in where the encoder weights start and whether they train."""
    try:
        _, spec, _ = registry.load_registered_encoder(cfg.rl.encoder_alias)
    except registry.RegistryError as exc:
        raise RLError(str(exc)) from None
    iterations = cfg.transfer.iterations or cfg.rl.iterations
    return {mode: with_rl(cfg, transfer=mode, arch=spec.arch, feature_dim=spec.feature_dim,
                          iterations=iterations)
            for mode in cfg.transfer.modes}


def algorithm_arms(cfg: ArcadeConfig) -> dict[str, ArcadeConfig]:
    """PPO and the course's REINFORCE on the same module, env stack, seed and budget."""
    return {alg: with_rl(cfg, algorithm=alg) for alg in ("ppo", "reinforce")}


def curriculum_skip(cfg: ArcadeConfig) -> str | None:
    """Why rl_curriculum does not run (None: it runs): a game with one mode and one difficulty
    gets no tasks by default (pipelines/core/game_fit.py), so there is no variant to order."""
    if cfg.rl_curriculum.tasks or not single_variant(cfg.game):
        return None
    return (f"{cfg.game} has one mode and one difficulty: no game variants for a curriculum to "
            "order (name rl_curriculum.tasks, e.g. frameskip ones, to run it)")


def skipped_experiment(name: str, why: str) -> ExperimentResult:
    """The result of an experiment that does not run on this game, said on the log and as
    the active run's `arcadelab.skipped` tag."""
    log.warning("%s: skipped: %s", name, why)
    mlflow.set_tag("arcadelab.skipped", why)
    return ExperimentResult(name, {}, {}, skipped=why)


def curriculum_arms(cfg: ArcadeConfig) -> dict[str, ArcadeConfig]:
    """With the curriculum of `rl_curriculum` (promotion in order), without it (straight on
    its last task), and its tasks as a uniform mix from the start (the same exposure with no
    order: the control that says whether the order matters); all on the gymnasium backend
    (ALE game modes) and evaluated on that last task."""
    cur = cfg.rl_curriculum
    if not cur.tasks:
        raise RLError("rl_curriculum.tasks is empty: give at least one task")
    base = {"env_backend": "gymnasium"}
    spec = cur.model_dump(mode="json") | {"order": "promote"}
    return {"curriculum": with_rl(cfg, **base, curriculum=spec),
            "no_curriculum": with_rl(cfg, **base, curriculum=spec | {"tasks": [cur.tasks[-1]]}),
            "uniform_mix": with_rl(cfg, **base, curriculum=spec | {"order": "mix"})}


def summarize(name: str, arms: dict[str, RLResult], thresholds: Sequence[float],
              title: str) -> ExperimentResult:
    """Log the overlaid curves and `<name>/…` metrics to the active (parent) run."""
    summary: dict[str, float] = {}
    for arm, res in arms.items():
        steps, returns = res.curve
        for x in thresholds:
            reached = steps_to_return(steps, returns, x)
            if reached is not None:
                summary[f"{name}/{arm}/steps_to_return_{threshold_label(x)}"] = reached
        if res.episode_return_mean is not None:
            summary[f"{name}/{arm}/final_return"] = res.episode_return_mean
        if res.eval_return is not None:
            summary[f"{name}/{arm}/eval_return"] = res.eval_return
    log_metrics(summary)
    series = {arm: res.curve for arm, res in arms.items() if res.curve[0]}
    if series:
        with tempfile.TemporaryDirectory() as tmp:
            png = line_chart(series, Path(tmp) / f"{name}_curves.png", title, "env steps",
                             "episode return (mean of recent episodes)")
            mlflow.log_artifact(str(png), name)
    return ExperimentResult(name, arms, summary)
