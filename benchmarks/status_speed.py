"""How long `arcadelab status` takes end to end (a fresh process: imports, store open, queries,
table) on a store shaped like a real work dir's: 10 pipeline flow runs x 14 stage runs, each
run carrying the whole config as params (~195, as tracking.log_config logs) and its metrics.
Target: within 3 s. Measured beside the floor any MLflow reader pays: a fresh process that
imports mlflow and opens the same store.

    .venv/bin/python benchmarks/status_speed.py                 # 10 x 14, 3 repeats
    .venv/bin/python benchmarks/status_speed.py --flows 50 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from results_io import append_rows  # benchmarks/ is the script dir, on sys.path

from pipelines.core.config import STAGES
from pipelines.core.status import KEY_METRICS

TARGET_S = 3.0


def build_store(work_dir: Path, flows: int, params: int = 195) -> str:
    """`<work_dir>/mlflow.db` with `flows` pipeline runs of one child run per stage."""
    uri = f"sqlite:///{work_dir / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("arcadelab/pipeline",
                                   artifact_location=(work_dir / "mlartifacts").as_uri())
    config = [Param(f"section{i % 20}.field{i}", str(i)) for i in range(params)]
    t0 = int(time.time() * 1000) - flows * 3_600_000
    for f in range(flows):
        start = t0 + f * 3_600_000
        parent = client.create_run(exp, start_time=start, run_name=f"pipeline-{f}", tags={
            "arcadelab.stage": "flow", "arcadelab.flow_run_id": f"prefect-{f}"}).info.run_id
        client.log_batch(parent, params=config)
        for s, stage in enumerate(STAGES):
            begin = start + s * 60_000
            run_id = client.create_run(exp, start_time=begin, run_name=stage, tags={
                "mlflow.parentRunId": parent, "arcadelab.stage": stage,
                "arcadelab.flow_run_id": f"prefect-{f}"}).info.run_id
            key = KEY_METRICS.get(stage, (f"{stage}/x",))[0].replace("*", "x")
            # A learning curve of 50 points (the store keeps the history, status reads latest).
            curve = [Metric(key, float(i), begin + i, i) for i in range(50)]
            extra = [Metric(f"{stage}/m{i}", float(i), begin, 0) for i in range(10)]
            client.log_batch(run_id, metrics=curve + extra, params=config,
                             tags=[RunTag("arcadelab.cached", str(f % 2 == 1).lower())])
            client.set_terminated(run_id, "FINISHED", end_time=begin + 55_000)
        client.set_terminated(parent, "FINISHED", end_time=start + len(STAGES) * 60_000)
    return uri


def timed(cmd: list[str], repeats: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + sys) of each run. The command is single-threaded,
    so on a busy machine its CPU time is what its wall time would be on an idle one."""
    wall, cpu = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        wall.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        t = time.perf_counter()
        uri = build_store(work, args.flows)
        print(f"store: {args.flows} flow runs x {len(STAGES)} stages, built in "
              f"{time.perf_counter() - t:.1f} s")
        floor = timed([sys.executable, "-c", "import sys; from mlflow import MlflowClient; "
                       "MlflowClient(sys.argv[1]).search_experiments()", uri], args.repeats, env)
        cli = [sys.executable, "-m", "flows.cli", "status", "--work-dir", str(work)]
        table = timed(cli, args.repeats, env)
        as_json = timed([*cli, "--json"], args.repeats, env)
    rows = []
    floor_s = statistics.median(floor[0])
    for name, (wall, cpu) in (("mlflow_open_floor", floor), ("status_table", table),
                              ("status_json", as_json)):
        median = statistics.median(wall)
        rows.append({"what": name, "flow_runs": args.flows, "stage_runs": len(STAGES),
                     "repeats": args.repeats, "median_s": round(median, 3),
                     "median_cpu_s": round(statistics.median(cpu), 3),
                     "vs_floor": round(median / floor_s, 2), "load": round(os.getloadavg()[0], 1)})
        print(f"{name:<18} wall {median:5.2f} s  cpu {statistics.median(cpu):5.2f} s  "
              f"x{median / floor_s:.2f} of the floor  (wall: "
              f"{', '.join(f'{x:.2f}' for x in wall)})")
    wall_s, cpu_s = statistics.median(table[0]), statistics.median(table[1])
    print(f"arcadelab status: {wall_s:.2f} s wall ({cpu_s:.2f} s CPU); target {TARGET_S:.0f} s: "
          f"{'met' if wall_s <= TARGET_S else 'missed'} "
          f"(machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    print(f"rows -> {append_rows('status_speed', rows)}")


if __name__ == "__main__":
    main()
