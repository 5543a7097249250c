"""Flows under Prefect's test harness (a real temporary Prefect server and database), with a
real local Ray and MLflow on a temporary SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from mlflow import MlflowClient

from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig, load_config

if TYPE_CHECKING:
    from flows.pipeline import FlowResult

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def data_run(prefect_harness: None, ray_local: None,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[ArcadeConfig, FlowResult]:
    """One real smoke `data` flow run, shared by the tests that read what it left."""
    from flows.pipeline import data_flow

    root = tmp_path_factory.mktemp("data-flow")
    cfg = load_config("smoke", runtime={"work_dir": root / "work",
                                        "mlflow_tracking_uri": f"sqlite:///{root / 'mlflow.db'}"})
    return cfg, data_flow(cfg)


def test_data_flow_records_prefect_run_in_mlflow(data_run: tuple[ArcadeConfig, FlowResult]
                                                 ) -> None:
    from prefect import get_client

    cfg, result = data_run
    assert result.flow == "data"

    # The Prefect server knows this flow run and its task.
    import asyncio

    async def prefect_state() -> str:
        async with get_client() as client:
            run = await client.read_flow_run(result.flow_run_id)
            return run.state.type.value

    assert asyncio.run(prefect_state()) == "COMPLETED"

    client = MlflowClient(tracking.tracking_uri(cfg))
    exp = client.get_experiment_by_name("arcadelab/data")
    runs = client.search_runs([exp.experiment_id])
    parent = next(r for r in runs if r.info.run_id == result.mlflow_run_id)
    child = next(r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id)
    for run in (parent, child):
        assert run.data.tags["arcadelab.flow_run_id"] == result.flow_run_id
        assert run.data.tags["arcadelab.git_sha"]
    assert parent.data.tags["arcadelab.stage"] == "flow"
    assert child.data.tags["arcadelab.stage"] == "data"
    assert child.data.metrics["data/rows"] == result.stages["data"].manifest.rows


def test_dry_run_reuses_the_finished_data_stage(data_run: tuple[ArcadeConfig, FlowResult]
                                                ) -> None:
    """The data stage the flow run stored is found under the key a pipeline computes for it
    (first stage: no upstream, as in the data flow), intact; the stages after it would run."""
    from flows.dry_run import REUSE, RUN, plan_pipeline

    cfg, _ = data_run
    plan = {s.stage: s for s in plan_pipeline(cfg).stages}
    assert (plan["data"].action, plan["data"].reason) == (
        REUSE, "finished result stored under this key, its files intact")
    assert {s.action for name, s in plan.items() if name != "data"} == {RUN}
