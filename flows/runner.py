"""The body every flow shares: Ray up, one MLflow parent run, the stages in order.

Each flow run opens one MLflow parent run (experiment `arcadelab/<flow>`) tagged with the
Prefect flow-run id; every stage is its registered Prefect task with a nested child run,
called through the stage cache (flows/caching.py). A stage that loads a registered model by
alias uses one fixed version (`cfg.runtime.pins`): the version an upstream stage registered
in this run, else the one the alias named when the first stage loading it started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect.runtime import flow_run as prefect_flow_run

from flows.caching import registered_version, run_stage
from flows.stage_registry import stage as stage_spec
from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig
from pipelines.core.model_refs import pin_key
from pipelines.core.runtime import init_ray


@dataclass(frozen=True)
class FlowResult:
    flow: str
    flow_run_id: str
    mlflow_run_id: str
    experiment_id: str
    tracking_uri: str
    stages: dict[str, Any]


def start_pins(cfg: ArcadeConfig, models: list[tuple[str, str]], pins: dict[str, str]
               ) -> dict[str, str]:
    """Pins for the aliases a stage loads that no earlier stage of this run pinned: the version
    each names now (the one its cache key holds), so a stage never loads a newer one that
    another run registers meanwhile. An alias with nothing behind it stays unpinned."""
    out = {}
    for model, alias in models:
        key = pin_key(model, alias)
        if alias.isdigit() or key in pins:
            continue
        version = registered_version(cfg, model, alias)
        if version != "none":
            out[key] = version
    return out


def produced_pins(model: str | None, result: Any) -> dict[str, str]:
    """Pins for the versions a stage just registered: later stages of this run use exactly
    these, whoever moves the aliases meanwhile."""
    if model is None or not hasattr(result, "registered_versions"):
        return {}
    return {pin_key(model, alias): v for alias, v in result.registered_versions().items()}


def run_stages(cfg: ArcadeConfig, flow_name: str, stages: tuple[str, ...]) -> FlowResult:
    """Ray up, parent run open, each stage's task in order, earlier results passed on."""
    flow_run_id = str(prefect_flow_run.id or "local")
    uri = tracking.setup(cfg)
    init_ray(cfg.runtime)
    results: dict[str, Any] = {}
    pins = dict(cfg.runtime.pins)
    with tracking.flow_run(cfg, flow_name, flow_run_id) as parent:
        for name in stages:
            spec = stage_spec(name)
            pins.update(start_pins(cfg, spec.models(cfg), pins))
            stage_cfg = cfg.model_copy(update={"runtime": cfg.runtime.model_copy(
                update={"pins": dict(pins)})})
            # Reuses a finished stage with the same config and code; retries transient failures.
            results[name] = run_stage(spec.load_task(), name, stage_cfg, parent, flow_name,
                                      flow_run_id, dict(results))
            pins.update(produced_pins(spec.produces(cfg), results[name]))
    return FlowResult(flow_name, flow_run_id, parent.info.run_id, parent.info.experiment_id,
                      uri, results)
