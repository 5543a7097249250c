"""The body every flow shares: Ray up, one MLflow parent run, the stages in order.

Each flow run opens one MLflow parent run (experiment `arcadelab/<flow>`) tagged with the
Prefect flow-run id; every stage is its registered Prefect task with a nested child run,
called through the stage cache (flows/caching.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect.runtime import flow_run as prefect_flow_run

from flows.caching import run_stage
from flows.stage_registry import stage as stage_spec
from pipelines import tracking
from pipelines.config import ArcadeConfig
from pipelines.runtime import init_ray


@dataclass(frozen=True)
class FlowResult:
    flow: str
    flow_run_id: str
    mlflow_run_id: str
    experiment_id: str
    tracking_uri: str
    stages: dict[str, Any]


def run_stages(cfg: ArcadeConfig, flow_name: str, stages: tuple[str, ...]) -> FlowResult:
    """Ray up, parent run open, each stage's task in order, earlier results passed on."""
    flow_run_id = str(prefect_flow_run.id or "local")
    uri = tracking.setup(cfg)
    init_ray(cfg.runtime)
    results: dict[str, Any] = {}
    with tracking.flow_run(cfg, flow_name, flow_run_id) as parent:
        for name in stages:
            # Reuses a finished stage with the same config and code; retries transient failures.
            task = stage_spec(name).load_task()
            results[name] = run_stage(task, name, cfg, parent, flow_name, flow_run_id,
                                      dict(results))
    return FlowResult(flow_name, flow_run_id, parent.info.run_id, parent.info.experiment_id,
                      uri, results)
