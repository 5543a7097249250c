"""`arcadelab tune` (`tune`): the Ray Tune sweep over one section's fields, with its preset
sizes."""

from __future__ import annotations

import difflib
import functools
from typing import Any, Literal

from pydantic import Field, model_validator

from pipelines.core.config.active import ActiveConfig
from pipelines.core.config.base import _Section
from pipelines.core.config.rl import RLConfig

# What `arcadelab tune` optimises per target, and the fields a trial cannot sweep: a nested
# section, a person in the loop, the live stream (trials run pool-based loops only).
TUNE_METRICS = {"rl": "rl/episode_return_mean", "active": "al/label_savings_vs_random"}
TUNE_GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "rl": {"lr": (1e-4, 2.5e-4, 5e-4)},
    "active": {"strategies": ("margin", "bald", "coreset"), "batch_size": (200, 400)}}
TUNE_EXCLUDED = {"rl": ("curriculum",),
                 "active": ("oracle", "stream", "stream_frames", "stream_budget",
                            "stream_strategy", "stream_calibration", "stream_retrain_every",
                            "stream_threshold_step")}


class TuneConfig(_Section):
    """`arcadelab tune`: a Ray Tune grid over the fields of one section (`target`: RL
    hyperparameters, or the active-learning loop's strategies and batch sizes), every trial a
    nested MLflow run; with a scheduler (`asha`, `pbt`; RL only) trials are stopped early or
    evolved as they train."""

    target: Literal["rl", "active"] = Field("rl", description="section whose fields are swept")
    params: dict[str, tuple[Any, ...]] | None = Field(
        None, description="field of `target` -> values to try (grid); None: TUNE_GRIDS[target]")
    num_samples: int = Field(1, ge=1, description="repeats of the whole grid")
    iterations: int | None = Field(None, ge=1, description="per RL trial (None: rl.iterations)")
    metric: str | None = Field(None, description="what picks the best trial (None: "
                               "rl/episode_return_mean, or al/label_savings_vs_random)")
    mode: Literal["max", "min"] = Field("max", description="maximise or minimise the metric")
    max_concurrent_trials: int = Field(
        1, ge=1, description="trials at once (pbt: as many as the Ray cluster fits; PBT "
        "pauses the others at a checkpoint and takes turns)")
    scheduler: Literal["none", "asha", "pbt"] = Field(
        "none", description="none: every trial runs to the end; asha: stop weak trials early; "
        "pbt: weak trials clone strong ones and mutate their `pbt_fields` (target=rl only)")
    # Laptop defaults against rl.iterations=50: rungs at 10, 20, 40 iterations.
    grace_period: int = Field(10, ge=1, description="asha: iterations before a trial may stop")
    reduction_factor: float = Field(
        2.0, gt=1, description="asha: keep the best 1/reduction_factor at each rung")
    perturbation_interval: int = Field(
        10, ge=1, description="pbt: iterations between exploit/explore steps (each saves a "
        "checkpoint of every trial)")

    @property
    def objective(self) -> str:
        return self.metric or TUNE_METRICS[self.target]

    @property
    def grid(self) -> dict[str, tuple[Any, ...]]:
        return dict(TUNE_GRIDS[self.target] if self.params is None else self.params)

    @property
    def trials(self) -> int:
        """Trials the sweep starts: the grid's points times `num_samples`."""
        return functools.reduce(lambda n, v: n * len(v), self.grid.values(), self.num_samples)

    @property
    def pbt_fields(self) -> tuple[str, ...]:
        """RL fields PBT may change in a running trial: they steer only the loss and the
        optimiser, so a trial restored from another's checkpoint can take them on. Other swept
        fields (arch, batch sizes, env runners) come from the trial it clones, unmutated."""
        return ("lr", "gamma", "gae_lambda", "clip_param", "vf_loss_coeff", "entropy_coeff",
                "grad_clip", "num_epochs", "finetune_lr_scale")

    @property
    def mutable(self) -> dict[str, tuple[Any, ...]]:
        """The swept fields PBT mutates: `pbt_fields` with at least two distinct values."""
        return {k: v for k, v in self.grid.items()
                if k in self.pbt_fields and len(set(v)) >= 2}

    def budget_problem(self, iterations: int) -> str | None:
        """Why the scheduler cannot act within trials of `iterations` iterations, if so (the
        sweep checks it again once `iterations` falls back to rl.iterations)."""
        if self.scheduler == "asha" and self.grace_period > iterations:
            return (f"grace_period: {self.grace_period} exceeds the {iterations} iterations "
                    "of a trial, so ASHA could never stop one")
        if self.scheduler == "pbt" and self.perturbation_interval >= iterations:
            return (f"perturbation_interval: {self.perturbation_interval} is not below the "
                    f"{iterations} iterations of a trial, so PBT would never perturb one")
        return None

    @model_validator(mode="after")
    def _target_fields(self) -> TuneConfig:
        section = {"rl": RLConfig, "active": ActiveConfig}[self.target]
        fields = [k for k in section.model_fields if k not in TUNE_EXCLUDED[self.target]]
        unknown = sorted(k for k in self.grid if k not in fields)
        if unknown:
            close = {k: difflib.get_close_matches(k, fields, n=1) for k in unknown}
            hints = ", ".join(f"{k}" + (f" (did you mean {c[0]!r}?)" if c else "")
                              for k, c in close.items())
            label = {"rl": "RL", "active": "active-learning"}[self.target]
            raise ValueError(f"params: not {label} fields: {hints}")
        if any(len(values) == 0 for values in self.grid.values()):
            raise ValueError("params: every field needs at least one value")
        return self

    @model_validator(mode="after")
    def _scheduler_fits(self) -> TuneConfig:
        if self.scheduler == "none":
            return self
        if self.target == "active":
            raise ValueError(
                f"scheduler: {self.scheduler} needs the metric every iteration, but an "
                "active-learning trial reports once, at the end (its label savings against "
                "random are known only when every loop has spent its budget); use "
                "scheduler=none")
        if self.scheduler == "pbt":
            if self.trials < 2:
                raise ValueError(
                    f"scheduler: pbt needs a population of at least 2 trials (num_samples x "
                    f"grid = {self.trials}); add values to tune.params or raise "
                    "tune.num_samples")
            if not self.mutable:
                raise ValueError(
                    "scheduler: pbt needs a swept field it can mutate in a running trial "
                    f"({', '.join(self.pbt_fields)}) with at least two values; the grid "
                    f"has {sorted(self.grid)}")
        problem = self.budget_problem(self.iterations) if self.iterations else None
        if problem:
            raise ValueError(problem)
        return self


# This section's overrides per preset (presets.py gathers every section's); laptop: the defaults.
PRESET_SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "tune": {"iterations": 1},
    },
}
