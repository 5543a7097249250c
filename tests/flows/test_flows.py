"""Flows under Prefect's test harness (a real temporary Prefect server and database), with a
real local Ray and MLflow on a temporary SQLite file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mlflow import MlflowClient

from pipelines import tracking

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_data_flow_records_prefect_run_in_mlflow(prefect_harness: None, ray_local: None,
                                                 smoke_config) -> None:
    from prefect import get_client

    from flows.pipeline import data_flow

    cfg = smoke_config()
    result = data_flow(cfg)
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
