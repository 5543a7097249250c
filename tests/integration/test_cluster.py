"""A real two-node Ray cluster on this machine (two `ray start` on loopback, 1 CPU each, token
authentication on, as a production cluster would run): the documented `ray job submit` recipe
runs the pipeline as a driver on the cluster (it joins through RAY_ADDRESS, set by Ray's job
supervisor), the data-prep tasks and the RLlib env runners land on both nodes, and the flow
completes with its results in MLflow."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.servers import free_port, isolated_env, stop_group

BIN = Path(sys.executable).parent
NODE_IP = "127.0.0.2"

# Several pipeline runs (or a whole cluster): minutes on 2 cores, so outside CI's budget.
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]


@dataclass(frozen=True)
class Cluster:
    gcs: str  # host:port, what RAY_ADDRESS holds
    dashboard: str  # http://host:port, what `ray job submit --address` takes
    env: dict[str, str]  # the token and PATH every client of this cluster needs


def alive_nodes(dashboard: str, env: dict[str, str]) -> int:
    code = ("from ray.util.state import list_nodes\n"
            f"print(sum(n.state == 'ALIVE' for n in list_nodes(address={dashboard!r})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60)
    return int(out.stdout.strip() or 0) if out.returncode == 0 else 0


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[Cluster]:
    # A short private temp dir: Ray's socket paths must stay under the 107-byte limit, and
    # other Ray sessions on this machine stay untouched.
    tmp = Path(tempfile.mkdtemp(prefix="arl", dir="/tmp"))
    port, dash = free_port(), free_port()
    env = isolated_env()
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
               RAY_USAGE_STATS_ENABLED="0", OMP_NUM_THREADS="1",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
               PREFECT_HOME=str(tmp / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               # The driver's ephemeral Prefect server; 20 s by default, short on 2 busy cores.
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")
    def common() -> list[str]:
        # Fixed default ports (the agent's 52365, the client server's 10001) may be held by
        # another Ray on this machine: every node takes free ones.
        # Ray maps 127.0.0.1 to the machine's routable address; 127.0.0.2 keeps every Ray
        # connection on loopback.
        return ["--block", "--num-cpus=1", f"--node-ip-address={NODE_IP}",
                f"--dashboard-agent-listen-port={free_port()}",
                f"--ray-client-server-port={free_port()}"]

    procs: list[subprocess.Popen[Any]] = []
    try:
        with (tmp / "head.log").open("w") as log:
            procs.append(subprocess.Popen(
                [str(BIN / "ray"), "start", "--head", f"--port={port}", *common(),
                 "--include-dashboard=true", "--dashboard-host=127.0.0.1",
                 f"--dashboard-port={dash}", f"--temp-dir={tmp}", "--disable-usage-stats"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        cluster = Cluster(f"{NODE_IP}:{port}", f"http://127.0.0.1:{dash}", env)
        deadline = time.monotonic() + 180
        while alive_nodes(cluster.dashboard, env) < 1:
            assert procs[0].poll() is None, (tmp / "head.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "head node did not come up in 180 s"
            time.sleep(1)
        with (tmp / "worker.log").open("w") as log:
            procs.append(subprocess.Popen(
                [str(BIN / "ray"), "start", f"--address={cluster.gcs}", *common()],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        while alive_nodes(cluster.dashboard, env) < 2:
            assert procs[1].poll() is None, (tmp / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "worker node did not join in 180 s"
            time.sleep(1)
        yield cluster
    finally:
        for proc in reversed(procs):
            stop_group(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def state(cluster: Cluster, kind: str, **filters: str) -> list[dict[str, Any]]:
    """Ray's state API (through the dashboard): tasks or actors with their node ids."""
    code = ("import json, sys\n"
            "from ray.util.state import list_tasks, list_actors\n"
            "fn = {'tasks': list_tasks, 'actors': list_actors}[sys.argv[1]]\n"
            "filters = [(k, '=', v) for k, v in (f.split('=', 1) for f in sys.argv[3:])]\n"
            "rows = fn(address=sys.argv[2], filters=filters, detail=True, limit=1000, "
            "raise_on_missing_output=False)\n"
            "print(json.dumps([{'name': getattr(r, 'name', None) or getattr(r, 'func_or_class"
            "_name', ''), 'class_name': getattr(r, 'class_name', None), "
            "'node_id': r.node_id, 'state': r.state} for r in rows]))\n")
    args = [f"{k}={v}" for k, v in filters.items()]
    out = subprocess.run([sys.executable, "-c", code, kind, cluster.dashboard, *args],
                         env=cluster.env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def test_job_submit_spreads_data_prep_and_env_runners_over_both_nodes(
        two_nodes: Cluster, tmp_path: Path) -> None:
    work = tmp_path / "work"
    # The recipe of docs/production.md: the flow runs as a driver on the cluster.
    # Every node has the code installed (as in infra/Dockerfile's image), so no --working-dir.
    cmd = [str(BIN / "ray"), "job", "submit", "--address", two_nodes.dashboard, "--",
           "python", "-m", "flows.cli", "pipeline", "--preset", "smoke",
           "--set", "pipeline.stages=[data,rl]", "--set", "rl.num_env_runners=2",
           "--work-dir", str(work)]
    deadline = time.monotonic() + 120
    while True:
        job = subprocess.run(cmd, env=two_nodes.env, capture_output=True, text=True,
                             timeout=900, cwd=tmp_path)
        out = job.stdout + job.stderr
        # A fresh head's job agent registers a little after the dashboard answers; Ray
        # says so and asks to try again.
        if "No available agent to submit job" not in out or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert job.returncode == 0, out[-4000:]
    assert "succeeded" in out
    assert "Ray cluster at" in out and "local Ray" not in out  # joined via RAY_ADDRESS

    rollouts = state(two_nodes, "tasks", func_or_class_name="collect_rollout")
    assert len(rollouts) == 2
    assert len({t["node_id"] for t in rollouts}) == 2, rollouts
    runners = state(two_nodes, "actors", class_name="SingleAgentEnvRunner")
    assert len(runners) == 2
    assert len({a["node_id"] for a in runners}) == 2, runners

    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    exp = client.get_experiment_by_name("arcadelab/pipeline")
    runs = client.search_runs([exp.experiment_id])
    stages = {r.data.tags["arcadelab.stage"]: r for r in runs}
    assert set(stages) == {"flow", "data", "rl"}
    assert all(r.info.status == "FINISHED" for r in runs)
    assert stages["rl"].data.metrics["rl/env_steps_sampled"] >= 2 * 256
