"""Faults: the MLflow tracking server is down at start (a clear error before any compute, and
nothing written), and goes away mid-run (the stage fails, the checkpoint it wrote survives on
disk, and `--resume` continues once the server is back)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pipelines.core import tracking
from pipelines.core.config import load_config
from pipelines.rl import train as rl_train
from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


class MlflowServer:
    """A real `mlflow server` on 127.0.0.1 over a SQLite store; killable and restartable."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{self.root / 'server.db'}",
             "--artifacts-destination", str(self.root / "artifacts")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)  # its own process group: the server and its workers
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.uri}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.5)
        self.kill()
        raise RuntimeError("mlflow server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # uvicorn workers too, not just the CLI
            self.proc.wait(timeout=30)
            self.proc = None


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowServer]:
    # No retries: a dead server fails the call at once instead of after minutes of backoff.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")  # a dead server refuses at once
    srv = MlflowServer(tmp_path / "mlflow-server")
    srv.root.mkdir()
    srv.start()
    yield srv
    srv.kill()


def test_server_down_at_start_fails_before_compute(tmp_path: Path) -> None:
    work = tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "data", "--preset", "smoke", "--work-dir",
         str(work), "--mlflow-uri", f"http://127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "MLflow tracking server" in proc.stderr and "not reachable" in proc.stderr
    assert not work.exists()  # nothing written, no dataset collected


def test_server_gone_mid_run_keeps_the_checkpoint(tmp_path: Path, server: MlflowServer,
                                                  ray_local: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sets = ("rl.iterations=3", "rl.num_env_runners=0", "rl.train_batch_size=128",
            "rl.minibatch_size=64", "rl.evaluation_every=0", "rl.video_max_steps=0",
            "rl.checkpoint_every=1", "rl.register_policy=false")
    cfg = load_config("smoke", sets=sets, runtime={"work_dir": tmp_path / "work",
                                                   "mlflow_tracking_uri": server.uri})
    real_log = rl_train.log_metrics
    calls = {"n": 0}

    def log_then_kill(metrics: dict[str, float], step: int | None = None) -> None:
        real_log(metrics, step=step)
        calls["n"] += 1
        if calls["n"] == 1:
            server.kill()  # the server dies after the first iteration was recorded

    monkeypatch.setattr(rl_train, "log_metrics", log_then_kill)
    tracking.setup(cfg)
    # MLflow's or requests' connection error, depending on where the call was.
    with pytest.raises(Exception) as failure, tracking.stage_run(cfg, "rl"):
        rl_train.train_rl(cfg)
    assert "127.0.0.1" in str(failure.value) or "onnect" in repr(failure.value)
    info = rl_train.latest_checkpoint(cfg)
    assert info["iteration"] == 1 and Path(info["path"]).is_dir()

    # Server back (same store): the run resumes from the checkpoint that survived.
    monkeypatch.setattr(rl_train, "log_metrics", real_log)
    server.start()
    with tracking.stage_run(cfg, "rl"):
        result = rl_train.train_rl(cfg, resume=True)
    assert result.iterations == 3
    assert os.path.isdir(rl_train.latest_checkpoint(cfg)["path"])
