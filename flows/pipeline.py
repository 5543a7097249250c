"""The flows: `pipeline` chains every stage; `data` and `rl` run one stage alone.

Each flow run opens one MLflow parent run (experiment `arcadelab/<flow>`) tagged with the
Prefect flow-run id; every stage is a Prefect task with a nested child run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import flow
from prefect.runtime import flow_run as prefect_flow_run

from flows.active import active_flow, curriculum_flow
from flows.caching import run_stage
from flows.families import FAMILY_FLOWS, FAMILY_TASKS
from flows.stages import STAGE_TASKS
from pipelines import tracking
from pipelines.config import ArcadeConfig
from pipelines.runtime import init_ray


@dataclass(frozen=True)
class FlowResult:
    flow: str
    flow_run_id: str
    mlflow_run_id: str
    experiment_id: str
    tracking_uri: str
    stages: dict[str, Any]


TASKS = {**STAGE_TASKS, **FAMILY_TASKS}


def run_stages(cfg: ArcadeConfig, flow_name: str, stages: tuple[str, ...]) -> FlowResult:
    """Body shared by every flow: Ray up, parent run open, stage tasks in order."""
    flow_run_id = str(prefect_flow_run.id or "local")
    uri = tracking.setup(cfg)
    init_ray(cfg.runtime)
    results: dict[str, Any] = {}
    with tracking.flow_run(cfg, flow_name, flow_run_id) as parent:
        for stage in stages:
            # Reuses a finished stage with the same config and code; retries transient failures.
            results[stage] = run_stage(TASKS[stage], stage, cfg, parent, flow_name,
                                       flow_run_id, dict(results))
    return FlowResult(flow_name, flow_run_id, parent.info.run_id, parent.info.experiment_id,
                      uri, results)


@flow(name="pipeline", log_prints=True)
def pipeline_flow(cfg: ArcadeConfig) -> FlowResult:
    """Every stage in `cfg.pipeline.stages`: data prep -> pretraining + probes -> RL ->
    zero-shot policy transfer -> RL experiments."""
    return run_stages(cfg, "pipeline", cfg.pipeline.stages)


@flow(name="data", log_prints=True)
def data_flow(cfg: ArcadeConfig) -> FlowResult:
    """Collect an ALE dataset with parallel Ray tasks."""
    return run_stages(cfg, "data", ("data",))


@flow(name="pretrain", log_prints=True)
def pretrain_flow(cfg: ArcadeConfig) -> FlowResult:
    """Self-supervised pretraining -> probes -> registry, on the (reused) dataset."""
    return run_stages(cfg, "pretrain", ("data", "pretrain"))


@flow(name="rl", log_prints=True)
def rl_flow(cfg: ArcadeConfig) -> FlowResult:
    """Train PPO with RLlib."""
    return run_stages(cfg, "rl", ("rl",))


@flow(name="policy_transfer", log_prints=True)
def policy_transfer_flow(cfg: ArcadeConfig) -> FlowResult:
    """The registered policy, greedy, on game variants it never trained on (zero-shot)."""
    return run_stages(cfg, "policy_transfer", ("policy_transfer",))


@flow(name="policy_data", log_prints=True)
def policy_data_flow(cfg: ArcadeConfig) -> FlowResult:
    """Frames the registered policy plays, and probes fitted on random-policy frames scored
    on them (the distribution-shift test)."""
    return run_stages(cfg, "policy_data", ("policy_data",))


@flow(name="transfer", log_prints=True)
def transfer_flow(cfg: ArcadeConfig) -> FlowResult:
    """Scratch vs frozen vs fine-tuned registry encoder, same seed and budget."""
    return run_stages(cfg, "transfer", ("transfer",))


@flow(name="rl_curriculum", log_prints=True)
def rl_curriculum_flow(cfg: ArcadeConfig) -> FlowResult:
    """PPO with vs without a curriculum over game variants, on the same budget."""
    return run_stages(cfg, "rl_curriculum", ("rl_curriculum",))


@flow(name="algorithms", log_prints=True)
def algorithms_flow(cfg: ArcadeConfig) -> FlowResult:
    """PPO vs the course's REINFORCE on one module and env stack, same budget."""
    return run_stages(cfg, "algorithms", ("algorithms",))


@flow(name="tune", log_prints=True)
def tune_flow(cfg: ArcadeConfig) -> FlowResult:
    """A Ray Tune sweep over `tune.params` of `tune.target`, every trial a nested MLflow run;
    active-learning trials need the dataset (reused when intact)."""
    stages = ("data", "tune") if cfg.tune.target == "active" else ("tune",)
    return run_stages(cfg, "tune", stages)


STAGE_FLOWS = {"data": data_flow, "pretrain": pretrain_flow, "rl": rl_flow,
               "policy_transfer": policy_transfer_flow, "policy_data": policy_data_flow,
               "transfer": transfer_flow, "rl_curriculum": rl_curriculum_flow, "tune": tune_flow,
               "algorithms": algorithms_flow, "active": active_flow,
               "data_curriculum": curriculum_flow, **FAMILY_FLOWS}
