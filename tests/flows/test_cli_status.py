"""`arcadelab status`: recent flow runs read from the work dir's MLflow store, as a table or
JSON; a missing work dir is one line and exit 1, an empty one says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from flows.cli import app
from tests.status_store import StatusStore, make_store

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StatusStore]:
    work = tmp_path_factory.mktemp("status") / "work"
    return work, make_store(work)


def test_json_lists_flow_runs_newest_first(work: tuple[Path, StatusStore]) -> None:
    work_dir, store = work
    result = runner.invoke(app, ["status", "--work-dir", str(work_dir), "--json"])
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)
    assert [r["flow_run_id"] for r in runs] == ["prefect-new", "prefect-old"]
    new = runs[0]
    assert (new["flow"], new["run_id"], new["state"]) == ("pipeline", store.new_parent,
                                                          "FINISHED")
    assert [(s["stage"], s["state"], s["reused"], s["metric"], s["value"], s["run_id"])
            for s in new["stages"]] == [
        ("data", "FINISHED", True, "data/rows", 1200.0, store.data),
        ("rl", "FAILED", False, "rl/eval_return", -19.5, store.rl)]
    assert [s["duration_s"] for s in new["stages"]] == [0.5, 118.0]


def test_limit_and_table(work: tuple[Path, StatusStore]) -> None:
    work_dir, store = work
    result = runner.invoke(app, ["status", "--work-dir", str(work_dir), "--limit", "1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("pipeline  FINISHED  started") and store.new_parent in lines[0]
    assert lines[1].split()[:4] == ["data", "FINISHED", "0m00s", "reused"]
    assert lines[2].split()[:4] == ["rl", "FAILED", "1m58s", "ran"]
    assert store.old_parent not in result.stdout


@pytest.mark.parametrize("how", ["--mlflow-uri", "MLFLOW_TRACKING_URI"])
def test_store_elsewhere_is_honoured(how: str, work: tuple[Path, StatusStore], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _, store = work
    args = ["status", "--work-dir", str(tmp_path), "--json"]
    if how == "--mlflow-uri":
        args += ["--mlflow-uri", store.uri]
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["run_id"] == store.new_parent


def test_missing_work_dir_is_one_line_exit_1(tmp_path: Path) -> None:
    gone = tmp_path.resolve() / "gone"
    result = runner.invoke(app, ["status", "--work-dir", str(gone)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"error: work dir {gone} does not exist"]
    assert not gone.exists()


def test_work_dir_without_a_store_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["status", "--work-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"no flow runs recorded in {tmp_path.resolve()}"
    assert not (tmp_path / "mlflow.db").exists(), "status reads; it creates no store"


def test_store_without_flow_runs_says_so(tmp_path: Path) -> None:
    MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").create_experiment("not-arcadelab")
    result = runner.invoke(app, ["status", "--work-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []  # stdout stays JSON; the words go to stderr
    assert f"no flow runs recorded in {tmp_path.resolve()}" in result.stderr
