"""Flows of the multimodal, multi-task, generative and few-shot families: `multimodal`,
`multitask`, `gan`, `fewshot`. Each runs the data stage (an intact dataset is reused) and then
its own stage, as a Prefect task in a nested MLflow run under the flow's parent run.

The task functions have the `flows/stages.py` signature (cfg, parent_run_id, flow,
flow_run_id, upstream) -> result with `.describe()`, so the `pipeline` flow can chain them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow, task
from prefect.cache_policies import NONE

from pipelines import tracking
from pipelines.config import ArcadeConfig
from pipelines.data_prep import upstream_dataset
from pipelines.fewshot import FewshotResult, run_fewshot_stage
from pipelines.gan import GanResult, run_gan_stage
from pipelines.multimodal import MultimodalResult, run_multimodal_stage
from pipelines.multitask import MultitaskResult, run_multitask_stage

if TYPE_CHECKING:  # flows.pipeline may import this module to chain the family stages
    from flows.pipeline import FlowResult


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


FAMILY_TASKS: dict[str, Callable[..., Any]] = {
    "multimodal": multimodal_task, "multitask": multitask_task, "gan": gan_task,
    "fewshot": fewshot_task}


def run_family(cfg: ArcadeConfig, name: str) -> FlowResult:
    """Data, then the family's stage, through the pipeline's own stage runner."""
    from flows.pipeline import run_stages

    return run_stages(cfg, name, ("data", name))


@flow(name="multimodal", log_prints=True)
def multimodal_flow(cfg: ArcadeConfig) -> FlowResult:
    """Fusion, bimodal autoencoder, alignment, translation, retrieval, co-learning."""
    return run_family(cfg, "multimodal")


@flow(name="multitask", log_prints=True)
def multitask_flow(cfg: ArcadeConfig) -> FlowResult:
    """Single-task, hard-sharing and soft-sharing models of the RAM variables."""
    return run_family(cfg, "multitask")


@flow(name="gan", log_prints=True)
def gan_flow(cfg: ArcadeConfig) -> FlowResult:
    """DCGAN on game frames, Frechet distance in the frozen encoder's feature space."""
    return run_family(cfg, "gan")


@flow(name="fewshot", log_prints=True)
def fewshot_flow(cfg: ArcadeConfig) -> FlowResult:
    """Prototypical few-shot and CLIP-style zero-shot classification of game states."""
    return run_family(cfg, "fewshot")


FAMILY_FLOWS = {"multimodal": multimodal_flow, "multitask": multitask_flow, "gan": gan_flow,
                "fewshot": fewshot_flow}


def main(argv: list[str] | None = None) -> None:
    """`python -m flows.families <flow> [--preset P] [--set k=v ...] [--work-dir D]`: run one
    family flow as `arcadelab run <flow>` will once it is wired into the CLI."""
    import argparse
    import logging

    from flows.cli import _config, _print_summary
    from pipelines.dataset import DatasetError
    from pipelines.runtime import RayConnectionError

    ap = argparse.ArgumentParser(prog="python -m flows.families")
    ap.add_argument("flow", choices=sorted(FAMILY_FLOWS))
    ap.add_argument("--preset", "-p", default="laptop")
    ap.add_argument("--config", "-c", action="append", type=Path)
    ap.add_argument("--set", "-s", dest="sets", action="append")
    ap.add_argument("--work-dir", type=Path)
    ap.add_argument("--mlflow-uri")
    ap.add_argument("--ray-address")
    args = ap.parse_args(argv)
    logging.getLogger("arcadelab").setLevel(logging.INFO)
    cfg = _config(args.preset, args.config, args.sets, args.ray_address, args.work_dir,
                  args.mlflow_uri)
    try:
        result = FAMILY_FLOWS[args.flow](cfg)
    except (RayConnectionError, DatasetError) as exc:
        raise SystemExit(f"error: {exc}") from None
    _print_summary(cfg, result)


if __name__ == "__main__":
    main()
