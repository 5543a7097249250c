"""Idempotent stages: reuse what finished, retry what failed for a passing reason.

Reuse is Prefect's task cache. A stage's key is a digest of the stage name, the config it
reads as its entry in flows/stage_registry.py declares it (game, seed, its own section, the
sections of the stages that ran before it in this flow run, and the sections or single fields
it declares in `reads`; no other section, so a change nothing in the run reads re-runs
nothing), the code (a digest of the package sources: a git commit on a clean tree, and still
right on a dirty one or in an image without .git), the versions of the libraries that shape
results, the MLflow store the stage's records and registered models live in, and the version
behind every registered model it loads by alias (`models`). Results are persisted under
`<work_dir>/cache`, so another work dir never reuses this one's datasets and checkpoints. A
cached result is reused only if the files it points at are still there and intact
(`unusable_files`); else the stage runs and says why.

Retries are Prefect task retries with exponential backoff, taken only for failures that may
pass: a Ray actor, worker or node dies, a connection drops or times out, the MLflow server
answers 5xx. Anything else (bad data, a bug, a 4xx) fails at once.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import mlflow
import ray.exceptions
import requests
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from prefect import Task
from prefect.cache_policies import CachePolicy
from prefect.client.schemas.objects import TaskRun
from prefect.filesystems import LocalFileSystem
from prefect.results import ResultStore
from prefect.states import State
from prefect.tasks import exponential_backoff

from flows.stage_registry import stage as stage_spec
from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig, config_digest
from pipelines.core.model_refs import POLICY_MODEL, pin_key
from pipelines.core.status import sqlite_path
from pipelines.data.dataset import DatasetError, Manifest, verify

log = logging.getLogger("arcadelab")

PACKAGES = ("models", "agents", "pipelines", "flows")
LIBRARIES = ("ale-py", "gymnasium", "ray", "torch", "mlflow")
TAG_CACHE_KEY = "arcadelab.cache_key"
TAG_CACHED = "arcadelab.cached"
TAG_REUSED_RUN = "arcadelab.reused_run_id"

# Failures worth a retry. Ray Train's own worker restarts (`pretrain.max_failures`) come first;
# when it gives up, its TrainingFailedError is not retried here.
TRANSIENT_RAY = (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError,
                 ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                 ray.exceptions.ObjectLostError, ray.exceptions.OwnerDiedError,
                 ray.exceptions.LocalRayletDiedError, ray.exceptions.ObjectFetchTimedOutError,
                 ray.exceptions.GetTimeoutError)
TRANSIENT_NET = (ConnectionError, TimeoutError, requests.ConnectionError, requests.Timeout)
# MLflow's REST client turns 5xx (after its own HTTP retries) and dropped connections into an
# MlflowException with one of these codes; 4xx map to other codes.
TRANSIENT_MLFLOW_CODES = ("INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED")


@functools.cache
def code_digest() -> str:
    """sha256 over the package sources (path and bytes of every .py file)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


@functools.cache
def library_versions() -> dict[str, str]:
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            out[lib] = "absent"
    return out


def stage_cache_key(stage: str, cfg: ArcadeConfig, upstream: Mapping[str, Any] | tuple[str, ...]
                    ) -> str:
    """The key a finished stage is stored and found under (see the module doc)."""
    reads = stage_spec(stage).reads(cfg)
    sci = cfg.science()
    hidden = _hidden_sections(stage, cfg, upstream)
    visible = {k: v for k, v in sci.items() if k not in hidden}
    key = {"stage": stage, "upstream": sorted(set(upstream)), "config": visible,
           "code": code_digest(), "libraries": library_versions(),
           "store": tracking.tracking_uri(cfg)}
    fields_read = [r.split(".", 1) for r in reads if "." in r]
    if fields_read:  # single fields of a section otherwise hidden
        key["reads"] = {f"{sec}.{name}": sci[sec][name] for sec, name in fields_read}
    refs = registry_refs(stage, cfg, upstream)
    if refs:
        key["registered"] = [registered_version(cfg, *ref) for ref in refs]
    return config_digest(key)


def _hidden_sections(stage: str, cfg: ArcadeConfig,
                     upstream: Mapping[str, Any] | tuple[str, ...]) -> set[str]:
    """Config sections left out of the stage's key: all but game, seed, its own section,
    those of the stages before it in this flow run and the sections it declares it reads."""
    reads = stage_spec(stage).reads(cfg)
    shown = {"game", "seed", stage, *upstream, *(r for r in reads if "." not in r)}
    return set(cfg.science()) - shown


def registry_refs(stage: str, cfg: ArcadeConfig, upstream: Mapping[str, Any] | tuple[str, ...]
                  ) -> list[tuple[str, str]]:
    """The (model, alias) pairs whose versions join the stage's key, in key order."""
    refs = stage_spec(stage).models(cfg)
    if "data" not in _hidden_sections(stage, cfg, upstream) and cfg.data.policy != "random":
        # Every stage downstream of policy-played data follows the version that played it.
        refs = [*refs, (POLICY_MODEL, cfg.data.policy)]
    return refs


def registered_version(cfg: ArcadeConfig, model: str, alias: str) -> str:
    """The version behind `models:/<model>@<alias>` in the config's MLflow store ("none": the
    stage then runs and reports the missing alias itself)."""
    pinned = cfg.runtime.pins.get(pin_key(model, alias))
    if pinned is not None and not alias.isdigit():
        return pinned  # the version this flow run's stages use for the alias
    db = sqlite_path(tracking.tracking_uri(cfg))
    if db is not None and not db.exists():
        return "none"  # no store yet; opening one would create it (a dry run writes nothing)
    client = mlflow.MlflowClient(tracking.tracking_uri(cfg))
    try:
        if alias.isdigit():  # a version number: fixed, but it must exist
            return str(client.get_model_version(model, alias).version)
        return str(client.get_model_version_by_alias(model, alias).version)
    except MlflowException:
        return "none"


@dataclass
class StageKey(CachePolicy):
    """A cache policy whose key was computed by `stage_cache_key` before the call."""

    key: str = ""

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any],
                    flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        return self.key or None


def is_transient(exc: BaseException | None) -> bool:
    """Whether a stage that raised `exc` may succeed when run again."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ray.exceptions.RayTaskError):
            exc = exc.cause  # the error inside the remote task decides
            continue
        if isinstance(exc, (*TRANSIENT_RAY, *TRANSIENT_NET)):
            return True
        if isinstance(exc, MlflowException):
            return (str(exc).startswith("API request to")
                    and exc.error_code in TRANSIENT_MLFLOW_CODES)
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            return exc.response.status_code >= 500 or exc.response.status_code == 429
        exc = exc.__cause__ or exc.__context__
    return False


def retry_if_transient(task: Task[..., Any], task_run: TaskRun, state: State) -> bool:
    """Prefect's `retry_condition_fn`: retry transient failures only, and say which."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # the failure under judgement
            exc = raised
    transient = is_transient(exc)
    log.warning("%s: %s failure: %r", task.name, "transient, retrying" if transient
                else "permanent, not retrying", exc)
    return transient


def stage_options(cfg: ArcadeConfig, key: str) -> dict[str, Any]:
    """`Task.with_options` for one stage call: cache under the work dir, retry with backoff."""
    rt = cfg.runtime
    return {
        "cache_policy": StageKey(key=key),
        "result_storage": (rt.work_dir / "cache").resolve(),  # a Path: local, no saved block
        "persist_result": True,
        "refresh_cache": not rt.reuse_stages,
        "retries": rt.stage_retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=rt.retry_delay_s),
        "retry_jitter_factor": 0.2,
        "retry_condition_fn": retry_if_transient,
    }


NOT_STORED = object()  # what `stored_result` returns for a key with no result


def stored_result(cfg: ArcadeConfig, key: str) -> Any:
    """The result persisted under `key` in the work dir's stage cache, read the way Prefect's
    task cache reads it (`ResultStore.exists`, then `read`); `NOT_STORED` when there is none.

    The storage is built from the path as `stage_options` gives it, without
    `resolve_result_storage`, whose client would start Prefect's ephemeral server.
    """
    cache = (cfg.runtime.work_dir / "cache").resolve()
    store = ResultStore(result_storage=LocalFileSystem(basepath=str(cache)))
    if not store.exists(key):
        return NOT_STORED
    return store.read(key).result


def run_stage(task: Task[..., Any], stage: str, cfg: ArcadeConfig, parent: Run, flow: str,
              flow_run_id: str, upstream: dict[str, Any],
              before: tuple[str, ...] | None = None) -> Any:
    """Call one stage task, reusing its finished result when the key matches.

    `upstream` holds the results the task takes; `before` names the stages listed before it
    in the flow (its key's view of the run; default: those of `upstream`), so a stage has one
    key whether the stages before it ran one by one or some of them concurrently.
    A reused stage still gets a child run under this flow run (tagged cached, pointing at the
    run that produced it), so the UI shows every stage of every flow run.
    """
    key = stage_cache_key(stage, cfg, upstream if before is None else before)
    options = stage_options(cfg, key)
    if stage_spec(stage).always_run:
        options["refresh_cache"] = True
    state = task.with_options(**options)(
        cfg, parent.info.run_id, flow, flow_run_id, upstream, return_state=True)
    result = state.result()
    problems = unusable_files(result) if state.name == "Cached" else []
    if problems:
        log.warning("%s: cached result is unusable (%s); running it again", stage,
                    "; ".join(problems))
        state = task.with_options(**stage_options(cfg, key), refresh_cache=True)(
            cfg, parent.info.run_id, flow, flow_run_id, upstream, return_state=True)
        result = state.result()
    if state.name == "Cached":
        record_reuse(cfg, stage, parent, flow, flow_run_id, key)
    else:
        tag_stage_run(parent, stage, key)
    return result


def unusable_files(result: Any) -> list[str]:
    """Why a cached result cannot be reused, one line per file (empty: reuse it).

    Walks the result dataclass and those nested in it: a Path field whose file is gone (a
    cleaned-up work dir), and a dataset (a `path` beside its `Manifest`) whose manifest does
    not parse, whose shards are missing or fail their sha256, or that lists other shards than
    the result does. Hashing every shard is cheap next to a stage: a laptop dataset is ~2 MB.
    """
    if not is_dataclass(result) or isinstance(result, type):
        return []
    values = [getattr(result, f.name) for f in fields(result)]
    problems = [f"deleted: {p}" for p in values if isinstance(p, Path) and not p.exists()]
    path = getattr(result, "path", None)
    manifests = [v for v in values if isinstance(v, Manifest)]
    if isinstance(path, Path) and path.exists() and manifests:
        try:
            verify(path, manifests[0])
        except DatasetError as exc:
            problems.append(str(exc))
    for value in values:
        problems += unusable_files(value)
    return problems


def _stage_runs(filter_string: str, experiment_ids: list[str] | None = None) -> list[Run]:
    client = mlflow.MlflowClient()
    ids = experiment_ids or [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids, filter_string, max_results=1,
                              order_by=["attributes.start_time DESC"])


def tag_stage_run(parent: Run, stage: str, key: str) -> None:
    """Mark the child run that just produced this stage with its cache key."""
    runs = _stage_runs(f"tags.`mlflow.parentRunId` = '{parent.info.run_id}' and "
                       f"tags.`{tracking.TAG_STAGE}` = '{stage}'", [parent.info.experiment_id])
    if runs:
        mlflow.MlflowClient().set_tag(runs[0].info.run_id, TAG_CACHE_KEY, key)


def record_reuse(cfg: ArcadeConfig, stage: str, parent: Run, flow: str, flow_run_id: str,
                 key: str) -> None:
    """A child run for a reused stage, pointing at the run that produced the result.

    Only producing runs carry the cache-key tag, so the search finds the producer.
    """
    origin = _stage_runs(f"tags.`{TAG_CACHE_KEY}` = '{key}' and "
                         f"attributes.status = 'FINISHED'")
    with tracking.stage_run(cfg, stage, parent, flow, flow_run_id):
        mlflow.set_tags({TAG_CACHED: "true",
                         TAG_REUSED_RUN: origin[0].info.run_id if origin else "unknown"})
    log.info("%s: reused the finished stage (cache key %s)", stage, key)

