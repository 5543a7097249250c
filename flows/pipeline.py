"""The flows: `pipeline` runs every stage of `pipeline.stages`; each stage also has its own
flow (`<stage>_flow`, experiment `arcadelab/<stage>`), made from its entry in
flows/stage_registry.py: the data stage first when the stage reads the dataset (an intact one
is reused), then the stage.
"""

from __future__ import annotations

from prefect import Flow, flow

from flows.runner import FlowResult, run_stages
from flows.stage_registry import REGISTRY, Stage
from pipelines.core.config import ArcadeConfig

__all__ = ["STAGE_FLOWS", "FlowResult", "pipeline_flow", "run_stages"]


@flow(name="pipeline", log_prints=True)
def pipeline_flow(cfg: ArcadeConfig) -> FlowResult:
    """Every stage in `cfg.pipeline.stages`: data prep -> pretraining + probes -> the
    frozen-encoder families -> RL -> policy data, zero-shot transfer -> RL experiments."""
    return run_stages(cfg, "pipeline", cfg.pipeline.stages)


def _stage_flow(spec: Stage) -> Flow[[ArcadeConfig], FlowResult]:
    def run(cfg: ArcadeConfig) -> FlowResult:
        return run_stages(cfg, spec.name, spec.flow_stages(cfg))

    # Module attribute `<stage>_flow` below: deployments find it by this entrypoint.
    run.__name__ = run.__qualname__ = f"{spec.name}_flow"
    run.__module__ = __name__
    run.__doc__ = spec.doc
    return flow(name=spec.name, log_prints=True, description=spec.doc)(run)


STAGE_FLOWS: dict[str, Flow[[ArcadeConfig], FlowResult]] = {
    name: _stage_flow(spec) for name, spec in REGISTRY.items()}
globals().update({f"{name}_flow": f for name, f in STAGE_FLOWS.items()})

