"""pipelines/core/status.py: the key-metric table, the store path, and flow runs read back from a
real SQLite MLflow store (tests/status_store.py), newest first, stage by stage."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from pipelines.core.status import (
    TAG_CACHED,
    FlowRunStatus,
    StageStatus,
    StoreMissingError,
    format_table,
    key_metric,
    read_status,
    sqlite_path,
    to_json,
)
from tests.status_store import StatusStore, make_store

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> StatusStore:
    return make_store(tmp_path_factory.mktemp("status") / "work")


def test_key_metric_prefers_the_first_candidate_and_falls_back() -> None:
    assert key_metric("rl", {"rl/episode_return_mean": -20.0, "rl/eval_return": -19.5}) == (
        "rl/eval_return", -19.5)
    assert key_metric("rl", {"rl/episode_return_mean": -20.0}) == ("rl/episode_return_mean", -20.0)
    assert key_metric("transfer", {"transfer/scratch/eval_return": 1.0,
                                   "transfer/frozen/eval_return": 2.0}) == (
        "transfer/frozen/eval_return", 2.0)  # first sorted match of the pattern
    assert key_metric("rl", {"rl/entropy": 1.0}) is None
    assert key_metric("no-such-stage", {"data/rows": 1.0}) is None


def test_sqlite_path() -> None:
    assert sqlite_path("sqlite:////tmp/w/mlflow.db") == Path("/tmp/w/mlflow.db")
    assert sqlite_path("sqlite:///rel/m.db") == Path("rel/m.db")
    assert sqlite_path("http://127.0.0.1:5000") is None


def test_cached_tag_is_the_one_flows_caching_writes() -> None:
    # pipelines/ may not import flows/: compare with the constant in its source instead.
    tree = ast.parse((ROOT / "flows" / "caching.py").read_text())
    values = {n.targets[0].id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
              and isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.Constant)}
    assert values["TAG_CACHED"] == TAG_CACHED


def test_read_status_newest_first_stage_by_stage(store: StatusStore) -> None:
    runs = read_status(store.uri, limit=10, now_ms=9_000_000)
    assert [(r.flow, r.flow_run_id, r.run_id) for r in runs] == [
        ("pipeline", "prefect-new", store.new_parent), ("pipeline", "prefect-old",
                                                        store.old_parent)]
    new = runs[0]
    assert (new.state, new.duration_s, new.started) == ("FINISHED", 125.0,
                                                         "1970-01-01T00:33:20+00:00")
    assert new.stages == (
        StageStatus("data", "FINISHED", 0.5, True, "data/rows", 1200.0, store.data),
        StageStatus("rl", "FAILED", 118.0, False, "rl/eval_return", -19.5, store.rl))
    assert [r.run_id for r in read_status(store.uri, limit=1)] == [store.new_parent]


def test_missing_store_is_not_created(tmp_path: Path) -> None:
    assert read_status(f"sqlite:///{tmp_path / 'mlflow.db'}") == []
    assert not (tmp_path / "mlflow.db").exists()
    with pytest.raises(StoreMissingError, match="gone does not exist"):
        read_status(f"sqlite:///{tmp_path / 'gone' / 'mlflow.db'}")


def test_running_stage_counts_until_now_and_formats() -> None:
    running = StageStatus("pretrain", "RUNNING", 61.0, False, None, None, "c" * 32)
    reused = StageStatus("data", "FINISHED", 0.4, True, "data/rows", 1200.0, "d" * 32)
    run = FlowRunStatus("pipeline", "RUNNING", "2025-01-02T03:04:05+00:00", 3700.0, "p-1",
                        "a" * 32, (reused, running))
    table = format_table([run]).splitlines()
    assert table[0] == (f"pipeline  RUNNING  started 2025-01-02 03:04:05+00:00  took 1h01m  "
                        f"run {'a' * 32}  (prefect p-1)")
    assert table[1].split() == ["data", "FINISHED", "0m00s", "reused", "data/rows", "=",
                                "1200", "d" * 32]
    assert table[2].split() == ["pretrain", "RUNNING", "1m01s", "ran", "-", "c" * 32]
    assert json.loads(to_json([run]))[0]["stages"][1]["metric"] is None


def test_sqlite_and_mlflow_read_the_same(store: StatusStore, tmp_path: Path) -> None:
    # The SQLite path reads MLflow's tables itself: a schema change in MLflow shows here.
    from pipelines.core.status import read_mlflow, read_sqlite

    db = sqlite_path(store.uri)
    assert db is not None
    for limit in (1, 10):
        assert read_sqlite(db, limit, 9_000_000) == read_mlflow(store.uri, limit, 9_000_000)
    # A NaN metric reads as NaN both ways (NaN != NaN, so compare the JSON), in a store of
    # its own: the module's store stays as the other tests expect it.
    from mlflow import MlflowClient

    other = make_store(tmp_path / "nan")
    MlflowClient(other.uri).log_metric(other.data, "data/rows", float("nan"), timestamp=2_001_400)
    other_db = sqlite_path(other.uri)
    assert other_db is not None
    assert to_json(read_sqlite(other_db, 10, 9_000_000)) == to_json(
        read_mlflow(other.uri, 10, 9_000_000))


def test_a_file_sqlite_cannot_read_falls_back_to_mlflow(tmp_path: Path) -> None:
    from pipelines.core.status import StoreUnreadableError

    db = tmp_path / "mlflow.db"
    db.write_bytes(b"not a database, " * 100)
    with pytest.raises(StoreUnreadableError, match="cannot read the MLflow store"):
        read_status(f"sqlite:///{db}")


def test_status_reads_a_local_store_without_importing_mlflow(store: StatusStore) -> None:
    # Importing MLflow takes longer than `arcadelab status` may (issue 17: within 3 s).
    import subprocess
    import sys

    code = ("import sys; from pipelines.core.status import read_status; "
            f"runs = read_status({store.uri!r}); "
            "assert len(runs) == 2, runs; assert 'mlflow' not in sys.modules, 'mlflow imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
