"""Prefect flows `active` (pool- and stream-based active learning) and `curriculum` (a data
curriculum for the same classifier), and the stage tasks the pipeline flow can call.

Each active-learning round is its own Prefect task run (`al-round`, named after its strategy
and round), so the Prefect UI shows the loop's progress and where an interrupted run stopped;
the loop's state is saved after every round, so running the flow again continues from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from prefect import flow, task
from prefect.cache_policies import NONE

from pipelines import tracking
from pipelines.active_stage import (
    ActiveContext,
    ActiveResult,
    finish_active,
    prepare_active,
    run_round,
    run_rounds,
    start_state,
)
from pipelines.al_state import RoundState
from pipelines.al_stream import StreamResult, run_stream
from pipelines.config import ArcadeConfig
from pipelines.data_curriculum import CurriculumResult, run_data_curriculum
from pipelines.data_prep import upstream_dataset

if TYPE_CHECKING:
    # flows.pipeline and flows.stages may import this module to wire its tasks in: import
    # them lazily here so that either import order works.
    from flows.pipeline import FlowResult


@task(name="al-round", cache_policy=NONE, task_run_name="{state.strategy}-round-{state.round}")
def al_round_task(ctx: ActiveContext, state: RoundState) -> RoundState:
    return run_round(ctx, state)


@task(name="al-stream", cache_policy=NONE)
def al_stream_task(ctx: ActiveContext) -> StreamResult:
    return run_stream(ctx)


@task(name="active", cache_policy=NONE)
def active_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
                upstream: dict[str, Any]) -> ActiveResult:
    """Every strategy's loop to the label budget (resuming saved loops), then the stream."""
    data = upstream_dataset(cfg, upstream)
    with tracking.stage_run(cfg, "active", parent_run_id, flow, flow_run_id) as run:
        ctx = prepare_active(cfg, data, run.info.run_id)
        states: dict[str, RoundState] = {}
        for strategy in cfg.active.strategies:
            states[strategy] = run_rounds(ctx, start_state(ctx, strategy), al_round_task)
        # A live stream is labelled by the emulator's RAM: no person keeps up with 60 frames/s.
        live = cfg.active.stream and cfg.active.oracle == "ram"
        stream = al_stream_task(ctx) if live else None
        return finish_active(ctx, states, stream)


@task(name="data_curriculum", cache_policy=NONE)
def data_curriculum_task(cfg: ArcadeConfig, parent_run_id: str, flow: str, flow_run_id: str,
                         upstream: dict[str, Any]) -> CurriculumResult:
    """Curriculum, anti-curriculum and random order under each pacing, on one step budget."""
    data = upstream_dataset(cfg, upstream)
    with tracking.stage_run(cfg, "data_curriculum", parent_run_id, flow, flow_run_id):
        return run_data_curriculum(cfg, data)


@flow(name="active", log_prints=True)
def active_flow(cfg: ArcadeConfig) -> FlowResult:
    """Data (reused when intact) -> pool-based AL per strategy -> stream-based AL."""
    from flows.pipeline import run_stages

    return run_stages(cfg, "active", ("data", "active"))


@flow(name="curriculum", log_prints=True)
def curriculum_flow(cfg: ArcadeConfig) -> FlowResult:
    """Data (reused when intact) -> curriculum vs anti-curriculum vs random order."""
    from flows.pipeline import run_stages

    return run_stages(cfg, "curriculum", ("data", "data_curriculum"))


FLOWS = {"active": active_flow, "curriculum": curriculum_flow}
cli = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Run the active-learning or data-curriculum flow "
                  "(until `arcadelab run` knows them).")


@cli.command()
def main(name: Annotated[str, typer.Argument(help="active or curriculum")],
         preset: Annotated[str, typer.Option("--preset", "-p")] = "laptop",
         set_: Annotated[list[str] | None, typer.Option("--set", "-s")] = None,
         work_dir: Annotated[str | None, typer.Option("--work-dir")] = None) -> None:
    from pathlib import Path

    from flows.cli import _config, _fail, _print_summary

    if name not in FLOWS:
        raise _fail(f"unknown flow {name!r} (choose from {', '.join(FLOWS)})", 2)
    cfg = _config(preset, None, set_, None, Path(work_dir) if work_dir else None, None)
    _print_summary(cfg, FLOWS[name](cfg))


if __name__ == "__main__":
    cli()
