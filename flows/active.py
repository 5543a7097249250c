"""Prefect tasks of the `active` stage (pool- and stream-based active learning) and the
`data_curriculum` stage (a data curriculum for the same classifier).

Each active-learning round is its own Prefect task run (`al-round`, named after its strategy
and round), so the Prefect UI shows the loop's progress and where an interrupted run stopped;
the loop's state is saved after every round, so running the stage again continues from there.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from pipelines.active.stage import (
    ActiveContext,
    ActiveResult,
    finish_active,
    prepare_active,
    run_round,
    run_rounds,
    start_state,
)
from pipelines.active.state import RoundState
from pipelines.active.stream import StreamResult, run_stream
from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig
from pipelines.curriculum.data_curriculum import CurriculumResult, run_data_curriculum
from pipelines.data.prep import upstream_dataset


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
