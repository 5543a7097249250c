"""What every `arcadelab` command shares: the resolved config from its options, and the
error exit. The CLI modules (flows/cli.py, flows/cli_label.py) import this; flows never do."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from pipelines.core.config import ArcadeConfig, ConfigError, load_config
from pipelines.core.work_dir import WorkDirError, ensure_writable


def fail(message: str, code: int) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def config_from_options(preset: str, files: list[Path] | None, sets: list[str] | None,
            ray_address: str | None, work_dir: Path | None, mlflow_uri: str | None,
            *, writable: bool = True, **runtime: object) -> ArcadeConfig:
    """The resolved config; with `writable` (every command that writes), a work dir that
    cannot be created or written to is refused here, before Ray, Prefect or MLflow start."""
    try:
        cfg = load_config(preset, files or (), sets or (), runtime={
            "ray_address": ray_address, "work_dir": work_dir, "mlflow_tracking_uri": mlflow_uri,
            **runtime})
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    if writable:
        # The SQLite file counts only when it is the store in use (tracking.tracking_uri's rule).
        local_store = not (cfg.runtime.mlflow_tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"))
        try:
            ensure_writable(cfg.runtime.work_dir, ("mlflow.db",) if local_store else ())
        except WorkDirError as exc:
            raise fail(f"{exc}; choose another --work-dir", 1) from None
    return cfg
