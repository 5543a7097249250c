"""Prefect tasks of the multimodal, multi-task, generative and few-shot stages: each its stage
function in a nested MLflow run over the dataset (the data stage's of this flow run, else the
one the config names)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig
from pipelines.data.prep import upstream_dataset
from pipelines.fewshot.stage import FewshotResult, run_fewshot_stage
from pipelines.generative.gan import GanResult, run_gan_stage
from pipelines.multimodal.stage import MultimodalResult, run_multimodal_stage
from pipelines.multitask.stage import MultitaskResult, run_multitask_stage


@task(name="multimodal", cache_policy=NONE)
def multimodal_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
                    upstream: dict[str, Any]) -> MultimodalResult:
    with tracking.stage_run(cfg, "multimodal", parent_run_id, flow, flow_run_id):
        return run_multimodal_stage(cfg, upstream_dataset(cfg, upstream))


@task(name="multitask", cache_policy=NONE)
def multitask_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
                   upstream: dict[str, Any]) -> MultitaskResult:
    with tracking.stage_run(cfg, "multitask", parent_run_id, flow, flow_run_id):
        return run_multitask_stage(cfg, upstream_dataset(cfg, upstream))


@task(name="gan", cache_policy=NONE)
def gan_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
             upstream: dict[str, Any]) -> GanResult:
    with tracking.stage_run(cfg, "gan", parent_run_id, flow, flow_run_id):
        return run_gan_stage(cfg, upstream_dataset(cfg, upstream))


@task(name="fewshot", cache_policy=NONE)
def fewshot_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
                 upstream: dict[str, Any]) -> FewshotResult:
    with tracking.stage_run(cfg, "fewshot", parent_run_id, flow, flow_run_id):
        return run_fewshot_stage(cfg, upstream_dataset(cfg, upstream))
