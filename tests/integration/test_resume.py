"""Kill the pipeline mid-run (SIGKILL, the whole process group), run it again with `--resume`:
the stage that had finished is reused from Prefect's cache, the RL stage that was cut off
continues from its last checkpoint, the killed runs are marked KILLED, and a third run reuses
both. `--dry-run` before the third run says so. Read back through MLflow: every flow run shows
every stage, reused ones tagged with the run that produced them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Run

from flows.caching import TAG_CACHED, TAG_REUSED_RUN
from tests.servers import isolated_env

# Three pipeline runs, one killed, and a dry run: about two minutes on 2 cores.
pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def children(client: MlflowClient, parent: Run) -> dict[str, Run]:
    runs = client.search_runs([parent.info.experiment_id],
                              f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    return {r.data.tags["arcadelab.stage"]: r for r in runs}


def parents(client: MlflowClient) -> list[Run]:
    exp = client.get_experiment_by_name("arcadelab/pipeline")
    if exp is None:
        return []
    return client.search_runs([exp.experiment_id], "tags.`arcadelab.stage` = 'flow'",
                              order_by=["attributes.start_time ASC"])


def test_killed_pipeline_resumes_without_redoing_finished_stages(tmp_path: Path) -> None:
    work = tmp_path / "work"
    env = isolated_env()
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), OMP_NUM_THREADS="1",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")  # 20 s: short under load
    cmd = [sys.executable, "-m", "flows.cli", "pipeline", "--preset", "smoke",
           "--set", "pipeline.stages=[data,rl]", "--work-dir", str(work)]
    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")

    pointer = work / "checkpoints" / "rl-latest.json"

    # Run 1: killed once data is done and stored and RL has checkpointed iteration 1 of 2.
    log1 = (tmp_path / "run1.log").open("w")
    first = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=log1, stderr=subprocess.STDOUT,
                             start_new_session=True)
    deadline = time.monotonic() + 400
    try:
        while True:
            assert first.poll() is None, "run 1 ended before it could be killed:\n" + (
                tmp_path / "run1.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "RL stage never started"
            runs = parents(client) if (work / "mlflow.db").exists() else []
            if runs and "rl" in children(client, runs[0]) and pointer.exists():
                break
            time.sleep(0.5)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
        log1.close()
    (run1,) = parents(client)
    killed = children(client, run1)
    assert killed["data"].info.status == "FINISHED"
    assert killed["rl"].info.status == "RUNNING"  # cut off: nobody closed it
    checkpoint = json.loads(pointer.read_text())
    assert checkpoint["iteration"] == 1

    # Run 2: data comes from the cache, RL continues from iteration 1.
    second = subprocess.run([*cmd, "--resume"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    out = second.stdout + second.stderr
    assert "rollout task" not in out and "reusing verified dataset" not in out
    assert "data: reused the finished stage" in out
    assert f"rl: resumes from iteration 1 ({checkpoint['path']})" in out
    run2 = parents(client)[1]
    resumed = children(client, run2)
    assert resumed["data"].data.tags[TAG_CACHED] == "true"
    assert resumed["data"].data.tags[TAG_REUSED_RUN] == killed["data"].info.run_id
    assert TAG_CACHED not in resumed["rl"].data.tags
    assert resumed["rl"].info.status == "FINISHED"
    assert resumed["rl"].data.tags["arcadelab.resumed_from"] == checkpoint["path"]
    # One iteration trained here (the second); the lifetime counter counts both.
    assert len(client.get_metric_history(resumed["rl"].info.run_id, "rl/env_steps_iter")) == 1
    assert resumed["rl"].data.metrics["rl/env_steps_sampled"] >= 2 * 256
    # The runs the SIGKILL left RUNNING were closed when run 2 started; none is RUNNING now.
    assert {client.get_run(r.info.run_id).info.status
            for r in (run1, killed["rl"])} == {"KILLED"}
    assert client.get_run(killed["data"].info.run_id).info.status == "FINISHED"

    # Dry run: both stages would be reused, nothing runs (no new flow run).
    plan = subprocess.run([*cmd, "--dry-run", "--json"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert [(s["stage"], s["action"]) for s in json.loads(plan.stdout)["stages"]] == [
        ("data", "reuse"), ("rl", "reuse")]
    assert len(parents(client)) == 2

    # Run 3: nothing left to do; every stage is reused and points at its producer.
    third = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=600)
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    again = children(client, parents(client)[2])
    assert {s: r.data.tags.get(TAG_REUSED_RUN) for s, r in again.items()} == {
        "data": killed["data"].info.run_id, "rl": resumed["rl"].info.run_id}
    assert "rl: iter" not in third.stdout + third.stderr
