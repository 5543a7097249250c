"""Prefect tasks: each a few lines around one stage call inside its MLflow child run.

Every task takes the config, the parent run, the flow identity and the results of the stages
before it (`upstream`), and returns its stage's typed result.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig
from pipelines.data.policy_data import PolicyDataResult, run_policy_data_stage
from pipelines.data.prep import DataResult, prepare_data, upstream_dataset
from pipelines.pretrain.stage import PretrainStageResult, run_pretrain_stage
from pipelines.rl.policy_transfer import PolicyTransferResult, run_policy_transfer_stage
from pipelines.rl.train import RLResult, train_rl


@task(name="data", cache_policy=NONE)
def data_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
              upstream: dict[str, Any]) -> DataResult:
    with tracking.stage_run(cfg, "data", parent_run_id, flow, flow_run_id):
        return prepare_data(cfg)


@task(name="pretrain", cache_policy=NONE)
def pretrain_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
                  upstream: dict[str, Any]) -> PretrainStageResult:
    data = upstream_dataset(cfg, upstream)
    with tracking.stage_run(cfg, "pretrain", parent_run_id, flow, flow_run_id) as run:
        return run_pretrain_stage(cfg, data, tracking.flow_tags(run))


@task(name="rl", cache_policy=NONE)
def rl_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
            upstream: dict[str, Any]) -> RLResult:
    with tracking.stage_run(cfg, "rl", parent_run_id, flow, flow_run_id):
        return train_rl(cfg, resume=cfg.runtime.resume)


@task(name="policy_transfer", cache_policy=NONE)
def policy_transfer_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
                         upstream: dict[str, Any]) -> PolicyTransferResult:
    trained = upstream["rl"].policy_version if "rl" in upstream else None
    with tracking.stage_run(cfg, "policy_transfer", parent_run_id, flow, flow_run_id):
        return run_policy_transfer_stage(cfg, trained)


@task(name="policy_data", cache_policy=NONE)
def policy_data_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
                     upstream: dict[str, Any]) -> PolicyDataResult:
    trained = upstream["rl"].policy_version if "rl" in upstream else None
    registered = upstream["pretrain"].registered if "pretrain" in upstream else None
    data = upstream_dataset(cfg, upstream)
    with tracking.stage_run(cfg, "policy_data", parent_run_id, flow, flow_run_id):
        return run_policy_data_stage(cfg, data, trained, registered)
