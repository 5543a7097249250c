"""Prefect tasks of the multimodal, multi-task, generative and few-shot stages: each its stage
function in a nested MLflow run over the dataset (the data stage's of this flow run, else the
one the config names)."""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prefect import Task, task
from prefect.cache_policies import NONE

from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig
from pipelines.data.prep import upstream_dataset
from pipelines.fewshot.stage import run_fewshot_stage
from pipelines.generative.gan import run_gan_stage
from pipelines.multimodal.stage import run_multimodal_stage
from pipelines.multitask.stage import run_multitask_stage

R = TypeVar("R")


def _family_task(name: str, run_stage: Callable[[ArcadeConfig, Path], R]) -> Task[..., R]:
    """The Prefect task of one stage over the dataset, typed with its stage's result."""

    def run(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
            upstream: dict[str, Any]) -> R:
        with tracking.stage_run(cfg, name, parent_run_id, flow, flow_run_id):
            return run_stage(cfg, upstream_dataset(cfg, upstream))

    run.__name__ = run.__qualname__ = f"{name}_task"
    run.__annotations__ = {**typing.get_type_hints(run), "return":
                           typing.get_type_hints(run_stage)["return"]}
    return task(name=name, cache_policy=NONE)(run)


multimodal_task = _family_task("multimodal", run_multimodal_stage)
multitask_task = _family_task("multitask", run_multitask_stage)
gan_task = _family_task("gan", run_gan_stage)
fewshot_task = _family_task("fewshot", run_fewshot_stage)
