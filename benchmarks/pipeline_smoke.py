"""Wall time of the README's main job (`arcadelab pipeline --preset smoke`), split into work
(the stages, read back from their MLflow child runs) and orchestration: process start and
imports, Ray start, Prefect's ephemeral server, MLflow store set-up and bookkeeping (read from
the driver's own log timestamps). Goal: orchestration at most 15% of the total.

    .venv/bin/python benchmarks/pipeline_smoke.py                  # every smoke stage
    .venv/bin/python benchmarks/pipeline_smoke.py --stages data,rl
    .venv/bin/python benchmarks/pipeline_smoke.py --max-concurrent-stages 1 --record
    .venv/bin/python benchmarks/pipeline_smoke.py --max-concurrent-stages null --record

With stages running concurrently their times overlap: work is the time during which at least
one stage ran (the union of their intervals), orchestration the rest. `--record` appends one
row per stage (and one `total` row) to benchmarks/results/pipeline.csv: config,
max_concurrent_stages, stage, seconds, wall_s. Run the two settings back to back on a quiet
machine and compare their `total` rows (issue 15's target: the default <= 0.8x of 1).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from mlflow import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import append_rows

STAMP = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) \| \w+ +\| (.*)$")


def log_times(out: str, day: datetime) -> list[tuple[float, str]]:
    """(epoch seconds, message) of every Prefect-formatted log line of the driver."""
    rows = []
    for line in out.splitlines():
        if m := STAMP.match(line):
            t = datetime.strptime(m.group(1), "%H:%M:%S.%f").replace(
                year=day.year, month=day.month, day=day.day)
            rows.append((t.timestamp(), m.group(2)))
    return rows


def first(rows: list[tuple[float, str]], *needles: str) -> float:
    return next(t for t, msg in rows if all(n in msg for n in needles))


def covered(intervals: list[tuple[float, float]]) -> float:
    """Seconds during which at least one of the (start, end) intervals ran."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stages", help="comma-separated pipeline.stages (default: the preset's)")
    ap.add_argument("--max-concurrent-stages", default="1",
                    help="pipeline.max_concurrent_stages: a number, or null for the cluster's "
                    "CPUs (default 1)")
    ap.add_argument("--record", action="store_true",
                    help="append the rows to benchmarks/results/pipeline.csv")
    args = ap.parse_args()
    extra = ["--set", f"pipeline.stages=[{args.stages}]"] if args.stages else []
    extra += ["--set", f"pipeline.max_concurrent_stages={args.max_concurrent_stages}"]
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "PREFECT_API_URL")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        env["PREFECT_HOME"] = str(Path(tmp) / "prefect")
        day = datetime.now()
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-m", "flows.cli", "pipeline", "--preset",
                               "smoke", *extra, "--work-dir", str(work)],
                              check=True, capture_output=True, text=True, env=env)
        t_end = time.time()
        client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
        exp = client.get_experiment_by_name("arcadelab/pipeline")
        runs = client.search_runs([exp.experiment_id])
    wall = t_end - t0
    rows = log_times(proc.stdout + proc.stderr, day)
    t_ray = first(rows, "arcadelab - local Ray")
    t_flow = first(rows, "Beginning flow run")
    t_done = first(rows, "Flow run", "Finished in state")
    # Stage runs only (children of the flow run; the pretrain stage's own nested runs excluded).
    parent = next(r for r in runs if r.data.tags["arcadelab.stage"] == "flow")
    spans = {r.data.tags["arcadelab.stage"]: (r.info.start_time / 1000, r.info.end_time / 1000)
             for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    stages = {stage: end - start for stage, (start, end) in spans.items()}
    work_s = covered(list(spans.values()))
    phases = {
        "process start, imports, Ray start": t_ray - t0,
        "Prefect ephemeral server": t_flow - t_ray,
        "flow bookkeeping (MLflow runs, task states)": (t_done - t_flow) - work_s,
        "shutdown (Prefect server, Ray)": t_end - t_done,
    }
    print(f"smoke pipeline, wall clock   : {wall:6.1f} s")
    for stage, secs in stages.items():
        print(f"  stage {stage:<20} : {secs:6.1f} s ({secs / wall:.0%})")
    print(f"  work (all stages)          : {work_s:6.1f} s ({work_s / wall:.0%})")
    orch = wall - work_s
    for name, secs in phases.items():
        print(f"  {name:<44}: {secs:6.1f} s ({secs / wall:.0%})")
    print(f"  orchestration              : {orch:6.1f} s ({orch / wall:.0%}; goal <= 15%)")
    if args.record:
        config = f"smoke:{args.stages or 'all'}"
        rows = [{"config": config, "max_concurrent_stages": args.max_concurrent_stages,
                 "stage": stage, "seconds": round(secs, 1), "wall_s": round(wall, 1)}
                for stage, secs in [*stages.items(), ("total", work_s)]]
        print(f"rows appended to {append_rows('pipeline', rows, seed=0)}")


if __name__ == "__main__":
    main()
