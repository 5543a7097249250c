"""Curriculum learning over examples for the frame -> RAM classifier (`data_curriculum`),
with its preset sizes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from agents.atari_env import rom_name
from pipelines.core.config.base import _distinct, _Section, _subset
from pipelines.core.game_fit import labels_problem

CURRICULUM_ORDERS = ("curriculum", "anti", "random")
PACINGS = ("fixed_steps", "linear", "root")


class DataCurriculumConfig(_Section):
    """Curriculum learning over examples (Bengio et al. 2009) for the frame -> RAM classifier."""

    encoder: str = Field("champion", description="frozen frame encoder (or 'random')")
    view: Literal["stack84", "full"] = Field("stack84", description="view of a random encoder")
    labels: tuple[str, ...] | None = Field(
        None, description="RAM variables to predict; None: the game's (Pong: ball_x, ball_y, "
        "player_y; else up to 3 usable labels, a position pair first)")
    difficulty: Literal["reference_loss", "ball_speed"] = Field(
        "reference_loss", description="reference_loss: cross-fitted loss of a reference "
        "model; ball_speed: RAM-derived ball movement per step (games with ball_x, ball_y)")
    orders: tuple[str, ...] = Field(CURRICULUM_ORDERS,
                                    description=f"subset of {CURRICULUM_ORDERS}")
    pacings: tuple[str, ...] = Field(PACINGS, description=f"subset of {PACINGS}")
    baseline: bool = Field(True, description="also train without pacing (all data from step 0)")
    steps: int = Field(1_500, ge=1, description="SGD steps per run: the same budget for all")
    batch_size: int = Field(128, ge=1, description="minibatch")
    start_fraction: float = Field(0.2, gt=0, le=1, description="share of data at step 0")
    ramp_fraction: float = Field(0.8, gt=0, le=1,
                                 description="share of the budget after which all data is in")
    levels: int = Field(5, ge=2, description="fixed_steps: number of data increments")
    eval_every: int = Field(100, ge=1, description="test F1 every this many steps")
    reference_epochs: int = Field(10, ge=1, description="epochs of the reference models")
    hidden: int = Field(512, ge=1, description="width of the classifier's hidden layer")
    dropout: float = Field(0.25, ge=0, lt=1, description="classifier dropout")
    lr: float = Field(3e-3, gt=0, description="Adam learning rate")
    weight_decay: float = Field(1e-4, ge=0, description="Adam weight decay")

    @field_validator("orders")
    @classmethod
    def _known_orders(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _subset(v, CURRICULUM_ORDERS, "orders")

    @field_validator("pacings")
    @classmethod
    def _known_pacings(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _subset(v, PACINGS, "pacings")

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return v if v is None else _distinct(v, "need distinct label names")

    def game_problem(self, game: str) -> str | None:
        """Why these settings cannot run on `game`, if so (the labels they name are per game)."""
        from pipelines.data.labels import labels_for

        known = labels_for(rom_name(game))
        if self.difficulty == "ball_speed" and not {"ball_x", "ball_y"} <= set(known):
            return (f"difficulty: ball_speed needs the ball_x and ball_y RAM labels, which "
                    f"{game} does not have (its labels: {', '.join(known) or 'none'}); use "
                    "difficulty=reference_loss")
        return labels_problem(game, "labels", self.labels)


# This section's overrides per preset (presets.py gathers every section's); laptop: the defaults.
PRESET_SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "data_curriculum": {"steps": 40, "eval_every": 20, "batch_size": 32, "hidden": 32,
                            "reference_epochs": 2, "pacings": ("linear",)},
    },
    "cluster": {
        "data_curriculum": {"steps": 20_000, "batch_size": 256, "eval_every": 500},
    },
}
