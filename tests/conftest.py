"""Shared fixtures: a real local Ray, MLflow on a temporary SQLite file, smoke configs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Tests never phone home and never touch the user's ~/.prefect.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """One real local Ray for the whole session (2 CPUs, like the CI machine)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def smoke_config(tmp_path: Path) -> Callable[..., object]:
    """Factory: the smoke preset with a private work dir and SQLite MLflow store."""
    from pipelines.config import load_config

    def make(*sets: str) -> object:
        return load_config("smoke", sets=sets, runtime={
            "work_dir": tmp_path / "work",
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        })

    return make
