"""Active learning of RAM labels from frames, pool- and stream-based (`active`), with its
preset sizes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from pipelines.core.config.base import _Section, _subset
from pipelines.core.game_fit import labels_problem

AL_STRATEGIES = ("random", "least_confidence", "margin", "entropy", "bald", "coreset")


class ActiveConfig(_Section):
    """Pool- and stream-based active learning of RAM variables from frames."""

    encoder: str = Field("champion", description="frozen frame encoder: registry alias, or "
                         "'random' (also used when the alias is not registered)")
    view: Literal["stack84", "full"] = Field("stack84", description="view of a random encoder")
    labels: tuple[str, ...] | None = Field(
        None, description="RAM variables to predict (one head each); None: the game's (Pong: "
        "ball_x, ball_y, player_y; else up to 3 usable labels, a position pair first)")
    target_labels: tuple[str, ...] | None = Field(
        None, description="labels whose mean F1 defines label savings; None: the position "
        "pair among labels (Pong: ball_x, ball_y), else all labels")
    strategies: tuple[str, ...] = Field(AL_STRATEGIES, description=f"subset of {AL_STRATEGIES}")
    oracle: Literal["ram", "human"] = Field(
        "ram", description="ram: labels read from RAM; human: `arcadelab label export/import`")
    seed_size: int = Field(100, ge=1, description="random labelled frames to start from")
    batch_size: int = Field(400, ge=1, description="frames queried per round")
    budget: int = Field(8_000, ge=1, description="stop when this many frames are labelled")
    target_fraction: float = Field(0.95, gt=0, le=1,
                                   description="savings: labels to reach this x full-data F1")
    score_shards: int = Field(4, ge=1, description="Ray tasks that score the pool per round")
    mc_samples: int = Field(10, ge=1, description="MC-dropout passes for BALD")
    hidden: int = Field(512, ge=1, description="width of the classifier's hidden layer")
    dropout: float = Field(0.25, ge=0, lt=1, description="dropout (also BALD's posterior)")
    epochs: int = Field(30, ge=1, description="passes over the labelled set per round")
    min_steps: int = Field(300, ge=1, description="at least this many SGD steps per round")
    train_batch_size: int = Field(256, ge=1, description="classifier minibatch")
    lr: float = Field(3e-3, gt=0, description="Adam learning rate")
    weight_decay: float = Field(1e-4, ge=0, description="Adam weight decay")
    stream: bool = Field(True, description="also run stream-based AL on a live ALE rollout")
    stream_frames: int = Field(5_000, ge=1, description="frames the live stream shows")
    stream_budget: int = Field(500, ge=1, description="labels the stream may query")
    stream_strategy: Literal["least_confidence", "margin", "entropy"] = Field(
        "margin", description="uncertainty the stream thresholds")
    stream_calibration: int = Field(200, ge=1, description="frames that set the threshold")
    stream_retrain_every: int = Field(100, ge=1, description="retrain after this many labels")
    stream_threshold_step: float = Field(
        0.05, ge=0, lt=1, description="threshold learning rate (tracks the budget's rate)")

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"strategies must not repeat (got {v})")
        return _subset(v, AL_STRATEGIES, "strategies")

    @model_validator(mode="after")
    def _consistent(self) -> ActiveConfig:
        # None is derived per game at stage start, from the dataset's manifest.
        labels, targets = self.labels, self.target_labels
        if labels is not None and (not labels or len(set(labels)) != len(labels)):
            raise ValueError(f"labels: need distinct label names (got {labels})")
        if targets is not None and (not targets
                                    or (labels is not None and not set(targets) <= set(labels))):
            raise ValueError(f"target_labels: must be a non-empty subset of labels "
                             f"{labels} (got {targets})")
        if self.seed_size > self.budget:
            raise ValueError(f"seed_size: {self.seed_size} exceeds budget ({self.budget})")
        return self

    def game_problem(self, game: str) -> str | None:
        """Why these settings cannot run on `game`, if so (the labels they name are per game)."""
        return (labels_problem(game, "labels", self.labels)
                or labels_problem(game, "target_labels", self.target_labels))


# This section's overrides per preset (presets.py gathers every section's); laptop: the defaults.
PRESET_SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "active": {"seed_size": 20, "batch_size": 20, "budget": 60, "score_shards": 2,
                   "mc_samples": 3, "hidden": 32, "epochs": 5, "min_steps": 20,
                   "stream_frames": 120, "stream_budget": 20, "stream_calibration": 20,
                   "stream_retrain_every": 10},
    },
    "cluster": {
        "active": {"budget": 20_000, "batch_size": 500, "score_shards": 32,
                   "stream_frames": 50_000, "stream_budget": 5_000},
    },
}
