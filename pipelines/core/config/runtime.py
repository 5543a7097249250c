"""Where a flow runs and where it stores things (`runtime`): no part of any config hash."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from pipelines.core.config.base import _Section


class RuntimeConfig(_Section):
    """Where things run and are stored; not part of the config hash (same science anywhere)."""

    work_dir: Path = Field(Path(".arcadelab"), description="datasets, MLflow store, checkpoints")
    ray_address: str | None = Field(
        None, description="join this Ray cluster (host:port or 'auto'); None: RAY_ADDRESS or local"
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs for a local Ray; None: all")
    mlflow_tracking_uri: str | None = Field(
        None, description="None: MLFLOW_TRACKING_URI, else SQLite under work_dir"
    )
    connect_timeout_s: float = Field(10.0, gt=0, description="give up joining a cluster after")
    resume: bool = Field(False, description="RL: continue from the last checkpoint in work_dir")
    reuse_stages: bool = Field(
        True, description="reuse a finished stage with the same config and code (Prefect cache)"
    )
    stage_retries: int = Field(2, ge=0, description="retries of a stage after a transient failure")
    retry_delay_s: float = Field(
        10.0, ge=0, description="first retry delay; doubles on each further retry"
    )
    pins: dict[str, str] = Field(
        {}, description="set by the flow run: '<model>/<alias>' -> the registry version its "
        "stages use for that alias (what an upstream stage registered in this run, else what "
        "the alias named when the first stage loading it started)")
