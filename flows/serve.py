"""`arcadelab serve`: the scheduled deployments of `schedule.deployments`, served by Prefect.

Each deployment runs one flow with the config resolved at serve time (its parameters are the
full config, work dir made absolute so a run lands in the same store from any directory).
`prefect.yaml` at the repo root describes the same deployments for a work pool instead.
"""

from __future__ import annotations

from typing import Any

from prefect import Flow, serve
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule, validate_cron_string

from pipelines.core.config import ArcadeConfig, ConfigError, DeploymentConfig


def flows() -> dict[str, Flow[..., Any]]:
    from flows.pipeline import STAGE_FLOWS, pipeline_flow

    return {"pipeline": pipeline_flow, **STAGE_FLOWS}


def deployment_parameters(cfg: ArcadeConfig) -> dict[str, Any]:
    """The flow's one parameter, `cfg`, as JSON, with paths that do not depend on the cwd."""
    runtime = cfg.runtime.model_copy(update={"work_dir": cfg.runtime.work_dir.resolve()})
    return {"cfg": cfg.model_copy(update={"runtime": runtime}).model_dump(mode="json")}


def schedule_of(dep: DeploymentConfig, index: int) -> Schedule:
    if dep.cron is not None:
        try:
            validate_cron_string(dep.cron)
        except ValueError as exc:
            raise ConfigError(f"schedule.deployments.{index}.cron: {exc}") from None
        return Cron(dep.cron, timezone=dep.timezone)
    assert dep.interval_s is not None  # config validation: exactly one of the two
    return Interval(dep.interval_s, timezone=dep.timezone)


def build_deployments(cfg: ArcadeConfig) -> list[RunnerDeployment]:
    """One Prefect deployment per `schedule.deployments` entry; nothing registered yet."""
    available = flows()
    params = deployment_parameters(cfg)
    out = []
    for i, dep in enumerate(cfg.schedule.deployments):
        if dep.flow not in available:
            raise ConfigError(f"schedule.deployments.{i}.flow: no flow named {dep.flow!r} "
                              f"(choose from {', '.join(available)})")
        out.append(available[dep.flow].to_deployment(
            name=dep.name,
            schedules=[schedule_of(dep, i)],
            paused=dep.paused,
            parameters=params,
            tags=["arcadelab", f"preset:{cfg.preset}"],
            description=f"arcadelab {dep.flow} flow, preset {cfg.preset}, "
                        f"config {cfg.hash()}",
            # Module path, not file path: the runner imports it from any working directory.
            entrypoint_type=EntrypointType.MODULE_PATH,
        ))
    return out


def serve_deployments(cfg: ArcadeConfig) -> None:
    """Register the deployments with the Prefect API and run their flow runs until stopped."""
    serve(*build_deployments(cfg), limit=cfg.schedule.limit)
