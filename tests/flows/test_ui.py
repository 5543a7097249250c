"""`arcadelab ui` serves the MLflow UI over a work dir, on loopback, and shows its runs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest

from tests.servers import free_port, isolated_env

pytestmark = pytest.mark.integration


def listen_addresses(port: int) -> set[str]:
    """IPv4 addresses with a socket listening on `port`, from the kernel's own table."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    return found


def test_ui_serves_the_work_dir_runs(tmp_path: Path) -> None:
    from pipelines.core import tracking
    from pipelines.core.config import load_config

    # The store `arcadelab ui --work-dir` serves, named: an exported MLFLOW_TRACKING_URI
    # (MLflow exports it after any in-process test) must not send the run elsewhere.
    cfg = load_config("smoke", runtime={
        "work_dir": tmp_path,
        "mlflow_tracking_uri": f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"})
    with tracking.flow_run(cfg, "pipeline", "test-flow-run"):
        mlflow.log_metric("data/rows", 3)

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "ui", "--work-dir", str(tmp_path),
         "--port", str(port)],
        env=isolated_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # so the server's worker processes stop with it
    )
    try:
        url = f"http://127.0.0.1:{port}"
        body = None
        deadline = time.monotonic() + 300  # the UI server starts slowly on a busy 2-core box
        while time.monotonic() < deadline:
            try:
                req = urllib.request.Request(
                    f"{url}/api/2.0/mlflow/experiments/search", method="POST",
                    data=json.dumps({"max_results": 10}).encode(),
                    headers={"Content-Type": "application/json"})
                body = json.loads(urllib.request.urlopen(req, timeout=10).read())
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.5)
        assert body is not None, proc.stdout.read() if proc.poll() is not None else "no answer"
        assert listen_addresses(port) == {"127.0.0.1"}  # loopback only, nobody else let in
        names = {e["name"] for e in body["experiments"]}
        assert "arcadelab/pipeline" in names
        page = urllib.request.urlopen(url, timeout=5).read().decode()
        assert "<html" in page.lower()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
