"""Runs under load: N smoke pipelines at once on this machine, each its own process, work dir
and Prefect home, like N users sharing a box. Checks every one finished with all its stage
runs in its own MLflow store (no interference, no lost runs) and prints the wall times.

    .venv/bin/python benchmarks/concurrent_smoke.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow import MlflowClient

from pipelines.core.config import load_config


def check(work: Path) -> str:
    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    exp = client.get_experiment_by_name("arcadelab/pipeline")
    runs = client.search_runs([exp.experiment_id]) if exp else []
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    if len(parents) != 1:
        return f"{len(parents)} parent runs"
    stages = {r.data.tags.get("arcadelab.stage") for r in runs
              if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id}
    missing = set(load_config("smoke").pipeline.stages) - stages
    unfinished = [r.info.run_name for r in runs if r.info.status != "FINISHED"]
    if missing or unfinished:
        return f"missing stages {sorted(missing)}, unfinished runs {unfinished}"
    return "ok"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="arcadelab-concurrent-"))
    procs = []
    start = time.perf_counter()
    for i in range(args.runs):
        work = root / f"user{i}"
        env = {**os.environ, "PREFECT_HOME": str(root / f"prefect{i}")}
        for var in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "PREFECT_API_URL"):
            env.pop(var, None)
        log = open(root / f"user{i}.log", "w")  # noqa: SIM115 (closed after wait)
        procs.append((work, log, time.perf_counter(), subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "pipeline", "--preset", "smoke",
             "--work-dir", str(work)], stdout=log, stderr=subprocess.STDOUT, env=env)))
    failures = 0
    for i, (work, log, t0, proc) in enumerate(procs):
        code = proc.wait()
        log.close()
        verdict = check(work) if code == 0 else f"exit {code}"
        failures += verdict != "ok"
        print(f"run {i}: exit {code}, {time.perf_counter() - t0:.0f} s, {verdict}")
    print(f"{args.runs} concurrent smoke pipelines in {time.perf_counter() - start:.0f} s; "
          f"{failures} failed; logs in {root}")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
