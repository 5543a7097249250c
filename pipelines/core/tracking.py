"""MLflow structure (DESIGN.md): one experiment per flow, a parent run per flow run, a nested
child run per stage, common tags on every run, the resolved config as params and config.yaml.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Run

from pipelines.core.config import ArcadeConfig, flatten
from pipelines.core.model_refs import pinned

# Re-exported: the stages import these from here.
from pipelines.core.run_tags import (
    TAG_CONFIG_HASH as TAG_CONFIG_HASH,
)
from pipelines.core.run_tags import (
    TAG_FLOW as TAG_FLOW,
)
from pipelines.core.run_tags import (
    TAG_FLOW_RUN_ID as TAG_FLOW_RUN_ID,
)
from pipelines.core.run_tags import (
    TAG_GIT_SHA as TAG_GIT_SHA,
)
from pipelines.core.run_tags import (
    TAG_HOST as TAG_HOST,
)
from pipelines.core.run_tags import (
    TAG_PID as TAG_PID,
)
from pipelines.core.run_tags import (
    TAG_PRESET as TAG_PRESET,
)
from pipelines.core.run_tags import (
    TAG_STAGE as TAG_STAGE,
)
from pipelines.core.store_location import (
    TrackingUnavailableError as TrackingUnavailableError,
)
from pipelines.core.store_location import (
    check_tracking_server as check_tracking_server,
)
from pipelines.core.store_location import (
    tracking_uri as tracking_uri,
)

log = logging.getLogger("arcadelab")


def artifact_root(cfg: ArcadeConfig) -> str | None:
    """Local artifact folder beside a local SQLite store; servers choose their own."""
    uri = tracking_uri(cfg)
    if uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri:
        return (cfg.runtime.work_dir / "mlartifacts").resolve().as_uri()
    return None


def setup(cfg: ArcadeConfig) -> str:
    cfg.runtime.work_dir.mkdir(parents=True, exist_ok=True)
    uri = tracking_uri(cfg)
    mlflow.set_tracking_uri(uri)
    return uri


# MLflow 3's UI opens an experiment without this tag on its GenAI overview (traces), not on
# its runs; arcadelab's experiments hold training runs.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def experiment_id(flow: str, cfg: ArcadeConfig) -> str:
    """`arcadelab/<flow>`, created on first use and tagged as a model-training experiment
    (experiments made before the tag existed get it here)."""
    name = f"arcadelab/{flow}"
    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        try:
            return mlflow.create_experiment(name, artifact_location=artifact_root(cfg),
                                            tags=EXPERIMENT_KIND)
        except mlflow.exceptions.MlflowException:
            # Created concurrently by another flow run: use theirs.
            exp = mlflow.get_experiment_by_name(name)
            if exp is None:
                raise
    for key, value in EXPERIMENT_KIND.items():
        if exp.tags.get(key) != value:
            mlflow.MlflowClient().set_experiment_tag(exp.experiment_id, key, value)
    return exp.experiment_id


def git_sha() -> str:
    """Commit of the code that ran (`-dirty` if the tree had changes); env var wins."""
    if sha := os.environ.get("ARCADELAB_GIT_SHA"):
        return sha
    root = Path(__file__).resolve().parent.parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=5).stdout
        return f"{sha}-dirty" if dirty.strip() else sha
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def common_tags(cfg: ArcadeConfig, flow: str, flow_run_id: str, stage: str,
                config_hash: str) -> dict[str, str]:
    return {
        TAG_STAGE: stage,
        TAG_FLOW: flow,
        TAG_FLOW_RUN_ID: flow_run_id,
        TAG_CONFIG_HASH: config_hash,
        TAG_GIT_SHA: git_sha(),
        TAG_PRESET: cfg.preset,
        TAG_HOST: socket.gethostname(),
        TAG_PID: str(os.getpid()),
    }


def flow_tags(run: Run) -> dict[str, str]:
    """The arcadelab.* tags of a run, to hand on to runs nested under it."""
    return {k: v for k, v in run.data.tags.items() if k.startswith("arcadelab.")}


def log_config(cfg: ArcadeConfig) -> None:
    """The whole resolved config: as params (flat keys) and as config.yaml."""
    data = cfg.model_dump(mode="json")
    mlflow.log_params({k: "None" if v is None else v for k, v in flatten(data).items()})
    mlflow.log_dict(data, "config.yaml")


@contextlib.contextmanager
def _ended_on_stop(run: Run) -> Iterator[None]:
    """Close `run` as KILLED when the process is being stopped (Ctrl-C, SIGTERM: Ray's and
    Prefect's handlers raise SystemExit / TerminationSignal, BaseExceptions like
    KeyboardInterrupt); an ordinary exception leaves it to MLflow, which marks it FAILED."""
    try:
        yield
    except BaseException as exc:
        if not isinstance(exc, (Exception, GeneratorExit)):
            active = mlflow.active_run()
            if active is not None and active.info.run_id == run.info.run_id:
                mlflow.end_run("KILLED")
            else:
                mlflow.MlflowClient().set_terminated(run.info.run_id, "KILLED")
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def reap_orphans() -> list[str]:
    """Mark KILLED the arcadelab runs still RUNNING whose process on this host is gone.

    A SIGKILL (or a lost machine) ends a process before any code of ours can close its
    runs. A run from another host, without the tags, or whose pid is alive (maybe reused:
    then it is left RUNNING, never wrongly closed) is not touched. Returns the run ids.
    """
    client = mlflow.MlflowClient()
    ids = [e.experiment_id for e in client.search_experiments(
        filter_string="name LIKE 'arcadelab/%'")]
    if not ids:
        return []
    runs = client.search_runs(ids, f"attributes.status = 'RUNNING' and "
                                   f"tags.`{TAG_HOST}` = '{socket.gethostname()}'",
                              max_results=1000)
    reaped = []
    for run in runs:
        pid = run.data.tags.get(TAG_PID, "")
        if pid.isdigit() and not _alive(int(pid)):
            client.set_terminated(run.info.run_id, "KILLED")
            reaped.append(run.info.run_id)
    if reaped:
        log.warning("marked %d MLflow run(s) KILLED: still RUNNING, but their process (on "
                    "this host) is gone: %s", len(reaped), ", ".join(reaped))
    return reaped


@contextlib.contextmanager
def flow_run(cfg: ArcadeConfig, flow: str, flow_run_id: str) -> Iterator[Run]:
    """The parent run of one flow run; first closes the runs of killed flow runs."""
    setup(cfg)
    reap_orphans()
    exp = experiment_id(flow, cfg)
    tags = common_tags(cfg, flow, flow_run_id, "flow", cfg.hash())
    with mlflow.start_run(experiment_id=exp, run_name=f"{flow}-{flow_run_id[:8]}",
                          tags=tags) as run, _ended_on_stop(run):
        log_config(cfg)
        yield run


@contextlib.contextmanager
def stage_run(cfg: ArcadeConfig, stage: str, parent: Run | str | None = None,
              flow: str | None = None, flow_run_id: str = "none") -> Iterator[Run]:
    """A child run for one stage, nested under `parent` (a run or its id) when given.

    The parent is passed explicitly rather than taken from MLflow's thread-local stack, so a
    stage may run on any thread Prefect picks.
    """
    setup(cfg)
    parent_id = parent.info.run_id if isinstance(parent, Run) else parent
    flow = flow or stage
    exp = (mlflow.get_run(parent_id).info.experiment_id if parent_id
           else experiment_id(flow, cfg))
    section = stage if stage in cfg.science() else None
    tags = common_tags(cfg, flow, flow_run_id, stage, cfg.hash(section))
    with mlflow.start_run(experiment_id=exp, run_name=stage, tags=tags,
                          parent_run_id=parent_id, nested=parent_id is not None) as run, \
            _ended_on_stop(run), pinned(cfg.runtime.pins):
        log_config(cfg)
        yield run


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log only finite numbers (a Pong episode may not finish in a tiny smoke iteration)."""
    clean = {k: float(v) for k, v in metrics.items() if v is not None and _finite(v)}
    if clean:
        mlflow.log_metrics(clean, step=step)


def _finite(v: Any) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return math.isfinite(f)
