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
from pipelines.fewshot import run_fewshot_stage
from pipelines.gan import run_gan_stage
from pipelines.multimodal import run_multimodal_stage
from pipelines.multitask import run_multitask_stage

if TYPE_CHECKING:  # flows.pipeline may import this module to chain the family stages
    from flows.pipeline import FlowResult


def _family_task(name: str, run_stage: Callable[[ArcadeConfig, Path], Any]) -> Callable[..., Any]:
    """The Prefect task of one family stage: its nested MLflow run over the upstream dataset."""

    def run(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
            upstream: dict[str, Any]) -> Any:
        with tracking.stage_run(cfg, name, parent_run_id, flow, flow_run_id):
            return run_stage(cfg, upstream_dataset(cfg, upstream))

    run.__name__ = run.__qualname__ = f"{name}_task"
    return task(name=name, cache_policy=NONE)(run)


FAMILY_TASKS: dict[str, Callable[..., Any]] = {
    name: _family_task(name, run_stage) for name, run_stage in (
        ("multimodal", run_multimodal_stage), ("multitask", run_multitask_stage),
        ("gan", run_gan_stage), ("fewshot", run_fewshot_stage))}


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
