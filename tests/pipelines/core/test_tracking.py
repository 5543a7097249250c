"""The MLflow experiment layout on a temporary SQLite store (real MLflow, no server)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig, load_config


def test_experiments_open_on_their_runs(tmp_path: Path) -> None:
    """Every arcadelab experiment is a model-training experiment (MLflow's UI then lands on
    the runs table), new ones and ones made before the tag existed alike."""
    cfg = load_config("smoke", runtime={"work_dir": tmp_path,
                                        "mlflow_tracking_uri": f"sqlite:///{tmp_path}/m.db"})
    tracking.setup(cfg)
    new = tracking.experiment_id("pipeline", cfg)
    old = mlflow.create_experiment("arcadelab/data")  # as an older arcadelab made it
    assert tracking.experiment_id("data", cfg) == old
    for exp in (new, old):
        assert mlflow.get_experiment(exp).tags["mlflow.experimentKind"] == \
            "custom_model_development"


def _store(tmp_path: Path) -> tuple[ArcadeConfig, mlflow.MlflowClient]:
    """The smoke config on a fresh SQLite store, and a client of it."""
    cfg = load_config("smoke", runtime={"work_dir": tmp_path,
                                        "mlflow_tracking_uri": f"sqlite:///{tmp_path}/m.db"})
    tracking.setup(cfg)
    return cfg, mlflow.MlflowClient()


@pytest.mark.parametrize(("raised", "status"), [
    (KeyboardInterrupt, "KILLED"), (SystemExit, "KILLED"), (ValueError, "FAILED")])
def test_a_stopped_flow_closes_its_runs(raised: type[BaseException], status: str,
                                        tmp_path: Path) -> None:
    """Ctrl-C, or SIGTERM (Ray's and Prefect's handlers raise SystemExit/TerminationSignal,
    BaseExceptions too), ends the parent and the stage run as KILLED; a failing stage as
    FAILED; never RUNNING."""
    cfg, client = _store(tmp_path)
    with pytest.raises(raised), tracking.flow_run(cfg, "pipeline", "f1") as parent, \
            tracking.stage_run(cfg, "data", parent, "pipeline", "f1") as child:
        raise raised()
    for run in (parent, child):
        assert client.get_run(run.info.run_id).info.status == status
    assert mlflow.active_run() is None


def test_runs_left_running_by_a_dead_process_are_marked_killed(tmp_path: Path) -> None:
    """What a SIGKILL leaves RUNNING is closed by the next flow run on this host; a live
    process's run and another host's are left alone."""
    cfg, client = _store(tmp_path)
    exp = tracking.experiment_id("pipeline", cfg)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    runs = {name: client.create_run(exp, tags={tracking.TAG_HOST: h, tracking.TAG_PID: str(p)})
            for name, h, p in [("dead", host, gone.pid), ("alive", host, os.getpid()),
                               ("elsewhere", "another-host", gone.pid)]}
    with tracking.flow_run(cfg, "pipeline", "f2") as parent:
        tags = client.get_run(parent.info.run_id).data.tags
        assert (tags[tracking.TAG_HOST], tags[tracking.TAG_PID]) == (host, str(os.getpid()))
    status = {n: client.get_run(r.info.run_id).info.status for n, r in runs.items()}
    assert status == {"dead": "KILLED", "alive": "RUNNING", "elsewhere": "RUNNING"}
