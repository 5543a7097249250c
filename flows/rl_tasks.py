"""RL experiment stages as Prefect tasks (each arm a task and a nested MLflow run):
`transfer` (scratch vs frozen vs fine-tuned encoder), `rl_curriculum` (with vs without a
curriculum over the game's variants), `algorithms` (PPO vs REINFORCE) and `tune` (a
Ray Tune sweep)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig
from pipelines.data.prep import upstream_dataset
from pipelines.rl.experiments import (
    ExperimentResult,
    algorithm_arms,
    curriculum_arms,
    curriculum_skip,
    skipped_experiment,
    summarize,
    transfer_arms,
)
from pipelines.rl.train import RLResult, train_rl
from pipelines.tune.sweep import TuneResult, run_sweep


@task(name="rl-arm", cache_policy=NONE, task_run_name="{name}")
def arm_task(cfg: ArcadeConfig, name: str, parent_run_id: str, flow: str,
             flow_run_id: str) -> RLResult:
    with tracking.stage_run(cfg, name, parent_run_id, flow, flow_run_id):
        return train_rl(cfg)


def _experiment(cfg: ArcadeConfig, stage: str, arms: Callable[[ArcadeConfig],
                dict[str, ArcadeConfig]], thresholds: tuple[float, ...], title: str,
                parent_run_id: str, flow: str, flow_run_id: str) -> ExperimentResult:
    with tracking.stage_run(cfg, stage, parent_run_id, flow, flow_run_id) as run:
        results = {arm: arm_task(arm_cfg, f"{stage}-{arm}", run.info.run_id, flow, flow_run_id)
                   for arm, arm_cfg in arms(cfg).items()}
        return summarize(stage, results, thresholds, title)


@task(name="transfer", cache_policy=NONE)
def transfer_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
                  upstream: dict[str, Any]) -> ExperimentResult:
    return _experiment(cfg, "transfer", transfer_arms, cfg.transfer.return_thresholds,
                       f"Transfer on {cfg.game}: encoder models:/arcadelab-encoder@"
                       f"{cfg.rl.encoder_alias}", parent_run_id, flow, flow_run_id)


@task(name="rl_curriculum", cache_policy=NONE)
def rl_curriculum_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
                       upstream: dict[str, Any]) -> ExperimentResult:
    why = curriculum_skip(cfg)
    if why is not None:  # before any compute
        with tracking.stage_run(cfg, "rl_curriculum", parent_run_id, flow, flow_run_id):
            return skipped_experiment("rl_curriculum", why)
    return _experiment(cfg, "rl_curriculum", curriculum_arms,
                       (cfg.rl_curriculum.promote_at,),
                       f"Curriculum on {cfg.game}: {list(cfg.rl_curriculum.tasks)}",
                       parent_run_id, flow, flow_run_id)


@task(name="algorithms", cache_policy=NONE)
def algorithms_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
                    upstream: dict[str, Any]) -> ExperimentResult:
    return _experiment(cfg, "algorithms", algorithm_arms, cfg.transfer.return_thresholds,
                       f"PPO vs REINFORCE on {cfg.game}", parent_run_id, flow, flow_run_id)


@task(name="tune", cache_policy=NONE)
def tune_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
              upstream: dict[str, Any]) -> TuneResult:
    data = None
    if cfg.tune.target == "active":  # its trials label frames of the dataset
        data = upstream_dataset(cfg, upstream)
    with tracking.stage_run(cfg, "tune", parent_run_id, flow, flow_run_id) as run:
        return run_sweep(cfg, run.info.run_id, data)
