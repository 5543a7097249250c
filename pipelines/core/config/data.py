"""The dataset the data stage collects (`data`), with its preset sizes."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from pipelines.core.config.base import _Section


class DataConfig(_Section):
    """Data prep: random-policy ALE rollouts collected by parallel Ray tasks."""

    policy: str = Field(
        "random", min_length=1, pattern=r"^\S+$",
        description="behaviour policy: random, or an arcadelab-policy alias or version")
    num_tasks: int = Field(4, ge=1, description="parallel Ray collection tasks, one seed each")
    steps_per_task: int = Field(5_000, ge=1, description="env steps each task collects")
    max_episode_steps: int | None = Field(
        None, ge=1, description="cut episodes after this many steps; None: play to game over"
    )
    frameskip: int = Field(4, ge=1, description="ALE frames per step (v5 default 4)")
    repeat_action_probability: float = Field(
        0.25, ge=0.0, le=1.0, description="sticky actions (v5 default 0.25)"
    )
    rows_per_shard: int = Field(2_000, ge=1, description="rows per Parquet shard")
    split: tuple[float, float, float] = Field(
        (0.7, 0.1, 0.2), description="train/val/test fractions of episodes (AtariARI: 70/10/20)"
    )
    min_label_entropy_bits: float = Field(
        0.6, ge=0.0, description="labels below this entropy are reported as low-entropy"
    )
    sample_grid: int = Field(16, ge=1, le=64, description="frames in the logged sample grid")
    reuse: bool = Field(
        True, description="reuse an intact dataset with the same game, seed and data config"
    )

    @field_validator("split")
    @classmethod
    def _split_sums_to_one(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(v) < 0 or abs(sum(v) - 1.0) > 1e-6 or v[0] <= 0:
            raise ValueError(f"fractions must be >= 0, train > 0, and sum to 1 (got {v})")
        return v


# This section's overrides per preset (presets.py gathers every section's); laptop: the defaults.
PRESET_SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        # Episodes of 100 steps: Ms. Pac-Man's start-up tune holds everything still for ~100
        # steps, so 60-step ones had no label that varies. 2 x 300 steps make 6 episodes
        # (Pong's random play never ends one sooner): 4 train, 1 val, 1 test.
        "data": {"num_tasks": 2, "steps_per_task": 300, "max_episode_steps": 100,
                 "rows_per_shard": 200},
    },
    "cluster": {
        "data": {"num_tasks": 64, "steps_per_task": 25_000, "rows_per_shard": 5_000},
    },
}
