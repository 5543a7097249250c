"""When flows run by themselves (`schedule`): the deployments `arcadelab serve` registers."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from pipelines.core.config.base import _Section


class DeploymentConfig(_Section):
    """One scheduled deployment that `arcadelab serve` registers (cron or interval)."""

    name: str = Field(..., min_length=1, description="deployment name, unique per flow")
    flow: str = Field("pipeline", description="'pipeline' or one stage's flow, e.g. 'data'")
    cron: str | None = Field(None, description="cron expression (5 fields), e.g. '0 3 * * *'")
    interval_s: float | None = Field(None, gt=0, description="or: run every N seconds")
    timezone: str = Field("UTC", description="IANA time zone of the cron schedule")
    paused: bool = Field(False, description="register the schedule paused")

    @model_validator(mode="after")
    def _one_schedule(self) -> DeploymentConfig:
        import zoneinfo

        if not self.flow.isidentifier():  # `arcadelab serve` checks it names a flow
            raise ValueError(f"flow: expected a flow name, got {self.flow!r}")
        if (self.cron is None) == (self.interval_s is None):
            raise ValueError("cron: give exactly one of cron or interval_s")
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError(f"cron: expected 5 fields (minute hour day month weekday), "
                             f"got {self.cron!r}")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        return self


class ScheduleConfig(_Section):
    """When flows run by themselves: the deployments `arcadelab serve` registers and serves."""

    deployments: tuple[DeploymentConfig, ...] = Field(
        (DeploymentConfig(name="pipeline-nightly", flow="pipeline", cron="0 3 * * *"),),
        description="scheduled deployments (name, flow, cron or interval_s)",
    )
    limit: int | None = Field(1, ge=1, description="flow runs at once in the serve process")

    @field_validator("deployments")
    @classmethod
    def _unique_names(cls, v: tuple[DeploymentConfig, ...]) -> tuple[DeploymentConfig, ...]:
        names = [(d.flow, d.name) for d in v]
        if len(set(names)) != len(names):
            raise ValueError(f"deployment names must be unique per flow (got {names})")
        return v
