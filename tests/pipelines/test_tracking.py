"""The MLflow experiment layout on a temporary SQLite store (real MLflow, no server)."""

from __future__ import annotations

from pathlib import Path

import mlflow

from pipelines import tracking
from pipelines.config import load_config


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
