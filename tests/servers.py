"""Servers the tests start themselves (MLflow, Prefect, the UI): a free loopback port, wait
until one answers, stop its whole process group. Imported as `tests.servers` (pytest's
`pythonpath` puts the repository root on sys.path)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

# What points a process at shared infrastructure. MLflow's set_tracking_uri also exports
# MLFLOW_TRACKING_URI, so after any in-process test it names that test's store.
OUTSIDE = ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "PREFECT_API_URL")


def isolated_env(**extra: str) -> dict[str, str]:
    """This process's environment without the variables that point at other stores/servers,
    plus `extra`: for a subprocess that must use only what its command line says."""
    env = {k: v for k, v in os.environ.items() if k not in OUTSIDE}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen[Any], timeout: float, what: str,
              log: Path | None = None) -> None:
    """Poll `url` until it answers; fail with the process's log tail if the process exits,
    or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
            assert proc.poll() is None, f"{what} exited: {tail}"
            assert time.monotonic() < deadline, f"{what} did not answer in {timeout:.0f} s"
            time.sleep(0.5)


def stop_group(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM the process group started for the test (servers fork workers), SIGKILL if it
    lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
