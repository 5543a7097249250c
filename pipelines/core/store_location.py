"""Where a config's MLflow store is, and whether a server store answers, without importing
MLflow (importing it takes seconds; `arcadelab status` must answer in fewer)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

from pipelines.core.config import ArcadeConfig


def tracking_uri(cfg: ArcadeConfig) -> str:
    """Config, then MLFLOW_TRACKING_URI, then SQLite under the work dir."""
    if cfg.runtime.mlflow_tracking_uri:
        return cfg.runtime.mlflow_tracking_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    db = (cfg.runtime.work_dir / "mlflow.db").resolve()
    return f"sqlite:///{db}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///…` URI (SQLAlchemy's form: three slashes, then the
    path, so an absolute path makes four); None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(unquote(uri.removeprefix("sqlite:///").split("?")[0]))


class TrackingUnavailableError(ConnectionError):
    """The MLflow tracking server does not answer."""


def check_tracking_server(uri: str, timeout_s: float = 10.0) -> None:
    """For an http(s) tracking URI, ask the server's /health once: a down or wrong server
    fails here in seconds, before any compute, instead of in MLflow's minutes of retries."""
    if not uri.startswith(("http://", "https://")):
        return  # a local store (sqlite, file, postgresql) is opened, not called
    import requests

    try:
        reply = requests.get(f"{uri.rstrip('/')}/health", timeout=timeout_s)
        ok = reply.status_code == 200
        detail = f"HTTP {reply.status_code}"
    except requests.RequestException as exc:
        ok, detail = False, type(exc).__name__
    if not ok:
        raise TrackingUnavailableError(
            f"MLflow tracking server {uri} is not reachable ({detail}); start it, fix "
            "--mlflow-uri / MLFLOW_TRACKING_URI, or unset them for the local SQLite store")
