"""Deployments on a real Prefect server (`prefect server start` on 127.0.0.1, its own
PREFECT_HOME, started and stopped here): `arcadelab serve` registers the configured schedules,
`prefect deployment run` triggers one, the run completes and MLflow records its flow-run id;
`prefect deploy --all` accepts `prefect.yaml`, which describes the default schedules."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow import MlflowClient

from tests.servers import free_port, stop_group, wait_http

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Prefect server on loopback; yields the environment that points at it."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "PREFECT_API_KEY")}
    env.update(PREFECT_HOME=str(home), PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false",
               OMP_NUM_THREADS="1")
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health", proc, 180, "prefect server",
                  home / "server.log")
        yield env
    finally:
        stop_group(proc)
        log.close()


def read_deployment(env: dict[str, str], name: str) -> Any:
    """The deployment as the server holds it (the client reads PREFECT_API_URL from env)."""
    script = (
        "import asyncio, sys\n"
        "from prefect.client.orchestration import get_client\n"
        "async def main():\n"
        "    async with get_client() as c:\n"
        "        d = await c.read_deployment_by_name(sys.argv[1])\n"
        "        print(d.model_dump_json())\n"
        "asyncio.run(main())\n")
    out = subprocess.run([sys.executable, "-c", script, name], env=env, capture_output=True,
                         text=True, timeout=60)
    if out.returncode != 0:
        return None
    return yaml.safe_load(out.stdout)


def wait_for_deployment(env: dict[str, str], name: str, proc: subprocess.Popen[Any],
                        log: Path, timeout_s: float = 180) -> Any:
    deadline = time.monotonic() + timeout_s
    while (dep := read_deployment(env, name)) is None:
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"deployment {name} not registered in {timeout_s} s"
        time.sleep(1)
    return dep



def test_serve_registers_schedules_and_a_triggered_run_completes(
        prefect_server: dict[str, str], tmp_path: Path) -> None:
    env = prefect_server
    work = tmp_path / "work"
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text(yaml.safe_dump({"schedule": {"deployments": [
        {"name": "data-hourly", "flow": "data", "interval_s": 3600},
        {"name": "pipeline-weekly", "flow": "pipeline", "cron": "0 3 * * 1",
         "timezone": "Europe/Paris", "paused": True},
    ]}}))
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen(
            [str(BIN / "arcadelab"), "serve", "--preset", "smoke", "-c", str(schedule),
             "--work-dir", str(work)],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        data = wait_for_deployment(env, "data/data-hourly", serve, log)
        weekly = wait_for_deployment(env, "pipeline/pipeline-weekly", serve, log)
        assert [s["schedule"]["interval"] for s in data["schedules"]] == [3600.0]
        (cron,) = weekly["schedules"]
        assert (cron["schedule"]["cron"], cron["schedule"]["timezone"]) == (
            "0 3 * * 1", "Europe/Paris")
        assert weekly["paused"] is True and data["paused"] is False
        assert data["parameters"]["cfg"]["runtime"]["work_dir"] == str(work.resolve())

        # Trigger it as a user (or the scheduler) would, and wait for the served run.
        run = subprocess.run(
            [str(BIN / "prefect"), "deployment", "run", "data/data-hourly", "--watch",
             "--watch-timeout", "400"],
            env=env, capture_output=True, text=True, timeout=450)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:] + log.read_text()
        flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", run.stdout).group(1)
        assert "Completed" in run.stdout
    finally:
        stop_group(serve)

    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    exp = client.get_experiment_by_name("arcadelab/data")
    runs = client.search_runs([exp.experiment_id],
                              f"tags.`arcadelab.flow_run_id` = '{flow_run_id}'")
    stages = {r.data.tags["arcadelab.stage"]: r for r in runs}
    assert set(stages) == {"flow", "data"}
    assert all(r.info.status == "FINISHED" for r in runs)
    assert stages["data"].data.tags["mlflow.parentRunId"] == stages["flow"].info.run_id
    assert stages["data"].data.metrics["data/rows"] > 0


def test_prefect_yaml_matches_default_schedules() -> None:
    """prefect.yaml describes what `arcadelab serve` serves by default, with valid params."""
    from pipelines.core.config import ArcadeConfig, load_config

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    default = load_config("laptop").schedule
    entry = {"pipeline": "flows/pipeline.py:pipeline_flow"}
    assert [d["name"] for d in spec["deployments"]] == [d.name for d in default.deployments]
    for dep, want in zip(spec["deployments"], default.deployments, strict=True):
        assert dep["entrypoint"] == entry.get(want.flow, f"flows/pipeline.py:{want.flow}_flow")
        (sched,) = dep["schedules"]
        assert (sched.get("cron"), sched.get("timezone")) == (want.cron, want.timezone)
        assert dep["concurrency_limit"] == default.limit
        cfg = ArcadeConfig.model_validate(dep["parameters"]["cfg"])
        assert cfg == load_config(cfg.preset)  # the parameters are exactly a preset


def test_a_deployments_preset_parameter_reaches_the_flow_as_that_preset() -> None:
    """A deployment whose `cfg` is `{preset: smoke}` runs smoke sizes: Prefect casts the
    parameter with ArcadeConfig's own validation, which applies the named preset under the
    object's other values (issue 18; `laptop`, the defaults, is unchanged by it)."""
    from flows.pipeline import pipeline_flow
    from pipelines.core.config import load_config

    cfg = pipeline_flow.validate_parameters(
        {"cfg": {"preset": "smoke", "rl": {"iterations": 3}}})["cfg"]
    smoke = load_config("smoke")
    assert cfg.preset == "smoke" and cfg.data == smoke.data and cfg.pretrain == smoke.pretrain
    assert cfg.rl.iterations == 3 and cfg.rl.train_batch_size == smoke.rl.train_batch_size
    laptop = pipeline_flow.validate_parameters({"cfg": {"preset": "laptop"}})["cfg"]
    assert laptop == load_config("laptop")


def test_prefect_deploy_accepts_prefect_yaml(prefect_server: dict[str, str]) -> None:
    """Prefect's own `prefect deploy --all` registers prefect.yaml for a process work pool."""
    env = prefect_server
    pool = subprocess.run([str(BIN / "prefect"), "work-pool", "create", "arcadelab",
                           "--type", "process"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deploy = subprocess.run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
    dep = read_deployment(env, "pipeline/pipeline-nightly")
    assert dep["work_pool_name"] == "arcadelab"
    assert dep["entrypoint"] == "flows/pipeline.py:pipeline_flow"
    assert [s["schedule"]["cron"] for s in dep["schedules"]] == ["0 3 * * *"]
    assert dep["parameters"] == {"cfg": {"preset": "laptop"}}


@pytest.mark.parametrize(("schedule", "message"), [
    ("[{name: x, flow: data, cron: '61 * * * *'}]", "schedule.deployments.0.cron: Invalid cron"),
    ("[{name: x, flow: data}]", "give exactly one of cron or interval_s"),
    ("[{name: x, flow: dta, interval_s: 60}]", "no flow named 'dta'"),
])
def test_bad_schedules_are_rejected_before_registering(schedule: str, message: str) -> None:
    from flows.serve import build_deployments
    from pipelines.core.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=re.escape(message)):
        build_deployments(load_config("smoke", sets=[f"schedule.deployments={schedule}"]))


def test_serve_cli_exits_2_naming_the_field(tmp_path: Path) -> None:
    # Its own process: the CLI configures Prefect's logging on the streams it is given.
    bad = subprocess.run(
        [str(BIN / "arcadelab"), "serve", "--preset", "smoke", "--set",
         "schedule.deployments=[{name: x, flow: data, cron: '61 * * * *'}]"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "schedule.deployments.0.cron" in bad.stderr and "Traceback" not in bad.stderr
