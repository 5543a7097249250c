"""`arcadelab status`: recent flow runs read back from MLflow, stage by stage.

A flow run is a parent run (no `mlflow.parentRunId` tag) in an `arcadelab/<flow>` experiment;
its stages are the child runs nested directly under it (tag `arcadelab.stage`). Each stage
shows its MLflow state, its duration, whether it was reused from the cache (`arcadelab.cached`)
or run, and one key metric when it logged it. Reading never creates a store.

A local SQLite store is read with `sqlite3`, read-only, from the tables MLflow's SQLAlchemy
store keeps (experiments, runs, tags, latest_metrics): importing MLflow alone takes longer than
the answer may (issue 17: within 3 s). Any other store, or a SQLite file whose tables read
differently, goes through MlflowClient; tests/pipelines/core/test_status.py checks that both
paths give the same answer on a store MLflow wrote, so a schema change shows in CI.
"""

from __future__ import annotations

import fnmatch
import json
import math
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.core.run_tags import TAG_FLOW_RUN_ID, TAG_PARENT, TAG_STAGE
from pipelines.core.store_location import sqlite_path as sqlite_path  # flows/caching reads it

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

EXPERIMENT_PREFIX = "arcadelab/"
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
class RunRecord:
    """What status reads of one MLflow run, whichever way the store was read."""

    run_id: str
    experiment_id: str
    name: str | None
    status: str
    start_time: int | None  # ms since the epoch
    end_time: int | None
    tags: Mapping[str, str]
    metrics: Mapping[str, float]  # the latest value of each


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


def key_metric(stage: str, metrics: Mapping[str, float]) -> tuple[str, float] | None:
    """The stage's key metric (see KEY_METRICS) among the metrics it logged, if any."""
    for pattern in KEY_METRICS.get(stage, ()):
        matches = sorted(fnmatch.filter(metrics, pattern))
        if matches:
            return matches[0], metrics[matches[0]]
    return None


def _duration_s(run: RunRecord, now_ms: int) -> float | None:
    if run.start_time is None:
        return None
    return max(0.0, ((run.end_time or now_ms) - run.start_time) / 1000)


def stage_status(run: RunRecord, now_ms: int) -> StageStatus:
    stage = run.tags.get(TAG_STAGE, run.name or "?")
    found = key_metric(stage, run.metrics)
    return StageStatus(stage=stage, state=run.status, duration_s=_duration_s(run, now_ms),
                       reused=run.tags.get(TAG_CACHED) == "true",
                       metric=found[0] if found else None, value=found[1] if found else None,
                       run_id=run.run_id)


def flow_status(parent: RunRecord, children: Sequence[RunRecord], flow: str,
                now_ms: int) -> FlowRunStatus:
    """One flow run; its stages in the order they started."""
    ordered = sorted(children, key=lambda r: r.start_time or 0)
    started = datetime.fromtimestamp((parent.start_time or 0) / 1000, UTC)
    return FlowRunStatus(flow=flow, state=parent.status,
                         started=started.isoformat(timespec="seconds"),
                         duration_s=_duration_s(parent, now_ms),
                         flow_run_id=parent.tags.get(TAG_FLOW_RUN_ID, "?"),
                         run_id=parent.run_id,
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
    if db is not None:
        try:
            return read_sqlite(db, limit, now_ms)
        except sqlite3.DatabaseError:
            pass  # tables MLflow no longer keeps this way: let MLflow read them
    return read_mlflow(uri, limit, now_ms)


def read_mlflow(uri: str, limit: int, now_ms: int) -> list[FlowRunStatus]:
    """Through MlflowClient: any store MLflow can open."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError  # a SQL store's own errors pass MLflow unwrapped

    try:
        return _read(MlflowClient(uri), limit, now_ms)
    except (MlflowException, SQLAlchemyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreUnreadableError(f"cannot read the MLflow store {uri}: {first}") from None


def _record(run: Run) -> RunRecord:
    return RunRecord(run_id=run.info.run_id, experiment_id=run.info.experiment_id,
                     name=run.info.run_name, status=run.info.status,
                     start_time=run.info.start_time, end_time=run.info.end_time,
                     tags=run.data.tags, metrics=run.data.metrics)


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
        out.append(flow_status(_record(parent), [_record(c) for c in children],
                               flows[parent.info.experiment_id], now_ms))
    return out


# The same questions as `_read`, asked of MLflow's tables (active experiments and runs only,
# newest parent first, run id breaking ties, as MLflow's search orders them).
_FLOWS_SQL = ("SELECT experiment_id, name FROM experiments "
              "WHERE name LIKE ? AND lifecycle_stage = 'active'")
_RUN_COLUMNS = "r.run_uuid, r.experiment_id, r.name, r.status, r.start_time, r.end_time"
_PARENTS_SQL = (f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.experiment_id IN ({{ids}}) "
                "AND r.lifecycle_stage = 'active' AND NOT EXISTS (SELECT 1 FROM tags t WHERE "
                "t.run_uuid = r.run_uuid AND t.key = ?) "
                "ORDER BY r.start_time DESC, r.run_uuid ASC LIMIT ?")
_CHILDREN_SQL = (f"SELECT {_RUN_COLUMNS} FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                 "WHERE r.experiment_id = ? AND r.lifecycle_stage = 'active' AND t.key = ? "
                 "AND t.value = ? ORDER BY r.start_time DESC, r.run_uuid ASC LIMIT 1000")


def read_sqlite(db: Path, limit: int, now_ms: int) -> list[FlowRunStatus]:
    """Straight from a local SQLite store, read-only (sqlite3.DatabaseError: not readable so)."""
    # A writer's lock is brief; past 2 s MLflow's own reader waits instead.
    con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
    try:
        con.execute("PRAGMA case_sensitive_like = true")  # as MLflow's sessions set it
        flows = {str(i): n.removeprefix(EXPERIMENT_PREFIX) for i, n in
                 con.execute(_FLOWS_SQL, (f"{EXPERIMENT_PREFIX}%",))}
        if not flows:
            return []
        parents = con.execute(_PARENTS_SQL.format(ids=",".join("?" * len(flows))),
                              (*flows, TAG_PARENT, limit)).fetchall()
        out = []
        for parent in parents:
            children = con.execute(_CHILDREN_SQL, (parent[1], TAG_PARENT, parent[0])).fetchall()
            records = _sqlite_records(con, [parent, *children])
            out.append(flow_status(records[0], records[1:], flows[str(parent[1])], now_ms))
        return out
    finally:
        con.close()


def _sqlite_records(con: sqlite3.Connection, rows: list[tuple]) -> list[RunRecord]:
    ids = [r[0] for r in rows]
    marks = ",".join("?" * len(ids))
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    for run_id, key, value in con.execute(
            f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({marks})", ids):
        tags[run_id][key] = value
    metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
    for run_id, key, value, is_nan in con.execute(
            "SELECT run_uuid, key, value, is_nan FROM latest_metrics "
            f"WHERE run_uuid IN ({marks})", ids):
        metrics[run_id][key] = math.nan if is_nan else float(value)
    # MLflow names a run from its tag when the column is empty (SqlRun.to_mlflow_entity).
    return [RunRecord(run_id=r[0], experiment_id=str(r[1]),
                      name=r[2] or tags[r[0]].get("mlflow.runName"), status=r[3],
                      start_time=r[4], end_time=r[5], tags=tags[r[0]], metrics=metrics[r[0]])
            for r in rows]


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
