"""The stages the pipeline flow runs (`pipeline`, and `STAGES`, their names in order)."""

from __future__ import annotations

from pydantic import Field, field_validator

from pipelines.core.config.base import _Section

STAGES = ("data", "pretrain", "multimodal", "multitask", "gan", "fewshot", "active",
          "data_curriculum", "rl", "policy_data", "policy_transfer", "transfer", "rl_curriculum",
          "algorithms")


class PipelineConfig(_Section):
    """Which stages the pipeline flow runs, in order, and how many at once."""

    stages: tuple[str, ...] = Field(STAGES, description=f"subset of {STAGES}")
    max_concurrent_stages: int | None = Field(
        1, ge=1, description="stages run at once, each as soon as the stages it takes results "
        "from are done and the Ray cluster has the CPUs it declares (flows/stage_registry.py); "
        "1: one after another in the listed order; null: as many as the cluster's CPUs allow")

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in v if s not in STAGES]
        if unknown or not v:
            raise ValueError(f"stages must be a non-empty subset of {STAGES} (got {v})")
        return v
