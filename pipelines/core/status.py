"""`arcadelab status`: recent flow runs read back from MLflow, stage by stage.

A flow run is a parent run (no `mlflow.parentRunId` tag) in an `arcadelab/<flow>` experiment;
its stages are the child runs nested directly under it (tag `arcadelab.stage`). Each stage
shows its MLflow state, its duration, whether it was reused from the cache (`arcadelab.cached`)
or run, and one key metric when it logged it. Reading never creates a store.
"""

from __future__ import annotations

import fnmatch
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException

from pipelines.core.tracking import TAG_FLOW_RUN_ID, TAG_STAGE

EXPERIMENT_PREFIX = "arcadelab/"
TAG_PARENT = "mlflow.parentRunId"
TAG_CACHED = "arcadelab.cached"  # flows/caching.py's TAG_CACHED (pipelines/ never imports flows/)

# The one number a person looks for first, per stage: candidates in order, glob patterns
# allowed (the first sorted match wins). A stage missing here, or that logged none, shows none.
KEY_METRICS: dict[str, tuple[str, ...]] = {
    "data": ("data/rows",),
    "pretrain": ("pretrain/champion_mean_f1",),
    "multimodal": ("mm/fusion/best_*_macro_f1", "mm/alignment/accuracy",
                   "mm/translation/frame_to_ram/mean_r2"),
    "multitask": ("mtl/*/mean_f1",),
    "gan": ("gan/frechet_final",),
    "fewshot": ("fewshot/policy/unseen_return_mean", "fewshot/zeroshot/*"),
    "active": ("al/label_savings_vs_random", "al/full_data_f1"),
    "data_curriculum": ("curriculum/*/final_f1",),
    "rl": ("rl/eval_return", "rl/episode_return_mean"),
    "policy_data": ("probe/shift/random/mean_f1", "probe/shift/*/mean_f1"),
    "policy_transfer": ("fewshot/policy/unseen_return_mean", "fewshot/policy/seen_return"),
    "transfer": ("transfer/*/eval_return", "transfer/*/final_return"),
    "rl_curriculum": ("rl_curriculum/*/eval_return", "rl_curriculum/*/final_return"),
    "algorithms": ("algorithms/*/eval_return", "algorithms/*/final_return"),
    "tune": ("tune/best_*", "tune/trials"),
}


class StoreMissingError(FileNotFoundError):
    """The folder of a local SQLite store does not exist: there is nothing to read."""


class StoreUnreadableError(RuntimeError):
    """The store is there but MLflow cannot read it (a newer schema, a corrupt file)."""


@dataclass(frozen=True)
class StageStatus:
    stage: str
    state: str  # MLflow run status: RUNNING, FINISHED, FAILED, KILLED, SCHEDULED
    duration_s: float | None  # until now while it runs
    reused: bool  # True: a cached result was reused, nothing was computed
    metric: str | None
    value: float | None
    run_id: str


@dataclass(frozen=True)
class FlowRunStatus:
    flow: str
    state: str
    started: str  # ISO 8601, UTC
    duration_s: float | None
    flow_run_id: str  # the Prefect flow run id ("local" without Prefect)
    run_id: str  # the MLflow parent run
    stages: tuple[StageStatus, ...]


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///…` URI (SQLAlchemy's form: three slashes, then the
    path, so an absolute path makes four); None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(unquote(uri.removeprefix("sqlite:///").split("?")[0]))


def key_metric(stage: str, metrics: Mapping[str, float]) -> tuple[str, float] | None:
    """The stage's key metric (see KEY_METRICS) among the metrics it logged, if any."""
    for pattern in KEY_METRICS.get(stage, ()):
        matches = sorted(fnmatch.filter(metrics, pattern))
        if matches:
            return matches[0], metrics[matches[0]]
    return None


def _duration_s(run: Run, now_ms: int) -> float | None:
    start = run.info.start_time
    if start is None:
        return None
    return max(0.0, ((run.info.end_time or now_ms) - start) / 1000)


def stage_status(run: Run, now_ms: int) -> StageStatus:
    tags = run.data.tags
    stage = tags.get(TAG_STAGE, run.info.run_name or "?")
    found = key_metric(stage, run.data.metrics)
    return StageStatus(stage=stage, state=run.info.status,
                       duration_s=_duration_s(run, now_ms),
                       reused=tags.get(TAG_CACHED) == "true",
                       metric=found[0] if found else None, value=found[1] if found else None,
                       run_id=run.info.run_id)


def flow_status(parent: Run, children: Sequence[Run], flow: str, now_ms: int) -> FlowRunStatus:
    """One flow run; its stages in the order they started."""
    ordered = sorted(children, key=lambda r: r.info.start_time or 0)
    started = datetime.fromtimestamp((parent.info.start_time or 0) / 1000, UTC)
    return FlowRunStatus(flow=flow, state=parent.info.status,
                         started=started.isoformat(timespec="seconds"),
                         duration_s=_duration_s(parent, now_ms),
                         flow_run_id=parent.data.tags.get(TAG_FLOW_RUN_ID, "?"),
                         run_id=parent.info.run_id,
                         stages=tuple(stage_status(r, now_ms) for r in ordered))


def read_status(uri: str, limit: int = 10, now_ms: int | None = None) -> list[FlowRunStatus]:
    """The `limit` most recent flow runs in the store at `uri`, newest first.

    A local SQLite file that does not exist yet means no runs (it is not created here); its
    folder missing too raises StoreMissingError.
    """
    db = sqlite_path(uri)
    if db is not None and not db.exists():
        if not db.parent.is_dir():
            raise StoreMissingError(f"{db.parent} does not exist")
        return []
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    try:
        return _read(MlflowClient(uri), limit, now_ms)
    except MlflowException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreUnreadableError(f"cannot read the MLflow store {uri}: {first}") from None


def _read(client: MlflowClient, limit: int, now_ms: int) -> list[FlowRunStatus]:
    flows = {e.experiment_id: e.name.removeprefix(EXPERIMENT_PREFIX) for e in
             client.search_experiments(filter_string=f"name LIKE '{EXPERIMENT_PREFIX}%'")}
    if not flows:
        return []
    parents = client.search_runs(list(flows), f"tags.`{TAG_PARENT}` IS NULL",
                                 max_results=limit, order_by=["attributes.start_time DESC"])
    out = []
    for parent in parents:
        # Only direct children: a stage's own nested runs (pretrain methods, RL arms) are not
        # stages of the flow.
        children = client.search_runs([parent.info.experiment_id],
                                      f"tags.`{TAG_PARENT}` = '{parent.info.run_id}'",
                                      max_results=1000)
        out.append(flow_status(parent, children, flows[parent.info.experiment_id], now_ms))
    return out


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"


def _value(stage: StageStatus) -> str:
    return "-" if stage.metric is None else f"{stage.metric} = {stage.value:.4g}"


def format_table(runs: Sequence[FlowRunStatus]) -> str:
    """The terminal view: a header line per flow run, then one row per stage."""
    lines: list[str] = []
    for run in runs:
        lines.append(f"{run.flow}  {run.state}  started {run.started.replace('T', ' ')}  "
                     f"took {_clock(run.duration_s)}  run {run.run_id}  "
                     f"(prefect {run.flow_run_id})")
        if not run.stages:
            lines.append("  (no stage runs)")
        width = max((len(s.stage) for s in run.stages), default=5)
        metric_width = max((len(_value(s)) for s in run.stages), default=1)
        for s in run.stages:
            lines.append(f"  {s.stage:<{width}}  {s.state:<8}  {_clock(s.duration_s):>7}  "
                         f"{'reused' if s.reused else 'ran':<6}  "
                         f"{_value(s):<{metric_width}}  {s.run_id}")
        lines.append("")
    return "\n".join(lines)


def to_json(runs: Sequence[FlowRunStatus]) -> str:
    # NaN is not JSON: a metric that is not a number reads as null.
    def clean(x: object) -> object:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    return json.dumps([clean(asdict(r)) for r in runs], indent=2)
