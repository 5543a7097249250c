"""Prefect tasks: each a few lines around one stage call inside its MLflow child run."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from pipelines import tracking
from pipelines.config import ArcadeConfig
from pipelines.data_prep import DataResult, prepare_data
from pipelines.rl_train import RLResult, train_ppo


@task(name="data", cache_policy=NONE)
def data_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str) -> DataResult:
    with tracking.stage_run(cfg, "data", parent_run_id, flow, flow_run_id):
        return prepare_data(cfg)


@task(name="rl", cache_policy=NONE)
def rl_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str) -> RLResult:
    with tracking.stage_run(cfg, "rl", parent_run_id, flow, flow_run_id):
        return train_ppo(cfg)


STAGE_TASKS: dict[str, Any] = {"data": data_task, "rl": rl_task}
