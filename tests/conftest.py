"""Shared fixtures: a real local Ray, MLflow on a temporary SQLite file, smoke configs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Tests never phone home.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect's ephemeral server gets 20 s to start by default; a busy 2-core machine needs more.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# Tiny torch ops in the test process: one thread avoids oversubscribing the 2 cores that the
# Ray workers of integration tests also use (measured: 2 threads under load ran ~40x slower).
os.environ.setdefault("OMP_NUM_THREADS", "1")


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
    from pipelines.core.config import load_config

    def make(*sets: str) -> object:
        return load_config("smoke", sets=sets, runtime={
            "work_dir": tmp_path / "work",
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        })

    return make


@pytest.fixture(scope="session")
def smoke_dataset(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A real smoke-sized Pong dataset made once per session: (config, DataResult)."""
    from pipelines.core import tracking
    from pipelines.core.config import load_config
    from pipelines.data.prep import prepare_data

    root = tmp_path_factory.mktemp("dataset")
    cfg = load_config("smoke", runtime={"work_dir": root / "work",
                                        "mlflow_tracking_uri": f"sqlite:///{root / 'm.db'}"})
    with tracking.stage_run(cfg, "data"):
        result = prepare_data(cfg)
    return cfg, result


@pytest.fixture(scope="session")
def train_view(smoke_dataset: tuple) -> object:
    """The smoke dataset's train split as the policy's 4x84x84 view (Ray Data), with two RAM
    labels and ATC's temporal partner, for the pretraining tests."""
    from pipelines.data.views import view_dataset

    _, data = smoke_dataset
    return view_dataset(data.path, "train", "stack84", ["ball_x", "player_y"], temporal_k=2)
