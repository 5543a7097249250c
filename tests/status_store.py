"""A small real MLflow store shaped like arcadelab's (DESIGN.md, "MLflow structure"): two
pipeline flow runs with nested stage runs, one stage reused from the cache, a run nested below
a stage, and an experiment that is not arcadelab's. Timestamps are fixed, so durations are
known."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient

PARENT = "mlflow.parentRunId"


@dataclass(frozen=True)
class StatusStore:
    uri: str
    old_parent: str
    new_parent: str
    data: str
    rl: str


def make_store(work_dir: Path) -> StatusStore:
    """`<work_dir>/mlflow.db`, where the CLI looks by default."""
    work_dir.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{work_dir / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("arcadelab/pipeline",
                                   artifact_location=(work_dir / "mlartifacts").as_uri())

    def run(start: int, end: int | None, status: str, stage: str, parent: str | None = None,
            metrics: dict[str, float] | None = None, **tags: str) -> str:
        all_tags = {"arcadelab.stage": stage, **tags, **({PARENT: parent} if parent else {})}
        run_id = client.create_run(exp, start_time=start, tags=all_tags,
                                   run_name=stage).info.run_id
        for key, value in (metrics or {}).items():
            client.log_metric(run_id, key, value, timestamp=start)
        if end is not None:
            client.set_terminated(run_id, status, end_time=end)
        return run_id

    old = run(1_000_000, 1_060_000, "FINISHED", "flow", **{"arcadelab.flow_run_id": "prefect-old"})
    run(1_001_000, 1_050_000, "FINISHED", "data", old, {"data/rows": 800})
    new = run(2_000_000, 2_125_000, "FINISHED", "flow", **{"arcadelab.flow_run_id": "prefect-new"})
    data = run(2_001_000, 2_001_500, "FINISHED", "data", new, {"data/rows": 1200},
               **{"arcadelab.cached": "true"})
    rl = run(2_002_000, 2_120_000, "FAILED", "rl", new,
             {"rl/episode_return_mean": -20.0, "rl/eval_return": -19.5})
    run(2_003_000, 2_100_000, "FINISHED", "rl", rl, {"rl/eval_return": 3.0})  # a stage's own
    other = client.create_experiment("not-arcadelab")
    client.create_run(other, start_time=3_000_000)  # newest of all, and not a flow run
    return StatusStore(uri, old, new, data, rl)
