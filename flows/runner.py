"""The body every flow shares: Ray up, one MLflow parent run, the stages in order.

Each flow run opens one MLflow parent run (experiment `arcadelab/<flow>`) tagged with the
Prefect flow-run id; every stage is its registered Prefect task with a nested child run,
called through the stage cache (flows/caching.py). A stage that loads a registered model by
alias uses one fixed version (`cfg.runtime.pins`): the version an upstream stage registered
in this run, else the one the alias named when the first stage loading it started.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import ray
from mlflow.entities import Run
from prefect.runtime import flow_run as prefect_flow_run

from flows.caching import registered_version, run_stage
from flows.stage_registry import stage as stage_spec
from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig
from pipelines.core.model_refs import pin_key
from pipelines.core.runtime import init_ray

log = logging.getLogger("arcadelab")


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
    """Ray up, parent run open, the stages run (one by one, or as a graph), results passed on."""
    flow_run_id = str(prefect_flow_run.id or "local")
    uri = tracking.setup(cfg)
    init_ray(cfg.runtime)
    runner = _StageRunner(cfg, flow_name, flow_run_id, stages)
    with tracking.flow_run(cfg, flow_name, flow_run_id) as parent:
        limit = concurrency(cfg)
        if limit == 1 or len(stages) == 1:
            for name in stages:
                runner.run(name, parent, dict(runner.results))
        else:
            runner.run_graph(parent, limit, cluster_cpus())
    return FlowResult(flow_name, flow_run_id, parent.info.run_id, parent.info.experiment_id,
                      uri, runner.results)


def concurrency(cfg: ArcadeConfig) -> int:
    """`pipeline.max_concurrent_stages`, or the cluster's CPU count when it is null."""
    limit = cfg.pipeline.max_concurrent_stages
    return limit if limit is not None else max(1, cluster_cpus())


def cluster_cpus() -> int:
    return int(ray.cluster_resources().get("CPU", 1))


class _StageRunner:
    """The stages of one flow run: their results and the model versions pinned so far."""

    def __init__(self, cfg: ArcadeConfig, flow: str, flow_run_id: str,
                 stages: tuple[str, ...]) -> None:
        self.cfg, self.flow, self.flow_run_id, self.stages = cfg, flow, flow_run_id, stages
        self.results: dict[str, Any] = {}
        self.pins = dict(cfg.runtime.pins)
        self._lock = threading.Lock()  # pins and results, when stages run concurrently

    def run(self, name: str, parent: Run, upstream: dict[str, Any]) -> Any:
        """One stage through the stage cache (reused when its key matches; transient failures
        retried), with every model alias it loads pinned."""
        spec = stage_spec(name)
        with self._lock:
            self.pins.update(start_pins(self.cfg, spec.models(self.cfg), self.pins))
            runtime = self.cfg.runtime.model_copy(update={"pins": dict(self.pins)})
        before = self.stages[:self.stages.index(name)]
        result = run_stage(spec.load_task(), name, self.cfg.model_copy(update={"runtime": runtime}),
                           parent, self.flow, self.flow_run_id, upstream, before)
        with self._lock:
            self.results[name] = result
            self.pins.update(produced_pins(spec.produces(self.cfg), result))
        return result

    def run_graph(self, parent: Run, limit: int, cpus: int) -> None:
        """Each stage as soon as the stages it takes results from are done, at most `limit` at
        once and only while the CPUs the running stages declare fit the cluster (a stage that
        alone needs more runs alone). A failure lets the running stages finish, starts no new
        one, and is raised."""
        specs = {n: stage_spec(n) for n in self.stages}
        deps = {n: [u for u in specs[n].upstream if u in self.stages] for n in self.stages}
        need = {n: specs[n].cpus(self.cfg) for n in self.stages}
        pending, running = list(self.stages), {}
        failure: BaseException | None = None
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="stage") as pool:
            while running or (pending and failure is None):
                used = sum(need[n] for n in running.values())
                for name in list(pending) if failure is None else []:
                    ready = all(d in self.results for d in deps[name])
                    fits = not running or used + need[name] <= cpus
                    if ready and fits and len(running) < limit:
                        pending.remove(name)
                        upstream = {d: self.results[d] for d in deps[name]}
                        # Prefect's flow-run context and our pins travel in context variables.
                        ctx = contextvars.copy_context()
                        running[pool.submit(ctx.run, self.run, name, parent, upstream)] = name
                        used += need[name]
                if not running:
                    raise RuntimeError(f"stages {pending} wait on stages outside this flow run")
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    if future.exception() is not None and failure is None:
                        failure = future.exception()
                        log.error("%s failed; letting %s finish, starting nothing new", name,
                                  ", ".join(running.values()) or "no other stage")
        if failure is not None:
            raise failure
