"""Wall time of the README's main job (`arcadelab pipeline --preset smoke`), split into
start-up (imports, Ray, Prefect's ephemeral server, MLflow store), data prep, pretraining and
RL, as shares of the whole, read back from the MLflow runs.

    .venv/bin/python benchmarks/pipeline_smoke.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow import MlflowClient


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "flows.cli", "pipeline", "--preset", "smoke",
                        "--work-dir", str(work)], check=True, capture_output=True)
        wall = time.perf_counter() - start
        client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
        exp = client.get_experiment_by_name("arcadelab/pipeline")
        runs = client.search_runs([exp.experiment_id])
    # Stage runs only (children of the flow run; the pretrain stage's own nested runs excluded).
    parent = next(r for r in runs if r.data.tags["arcadelab.stage"] == "flow")
    stages = {r.data.tags["arcadelab.stage"]: (r.info.end_time - r.info.start_time) / 1000
              for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    print(f"smoke pipeline, wall clock   : {wall:6.1f} s (budget 600 s: {wall / 600:.0%})")
    for stage in ("data", "pretrain", "rl"):
        secs = stages[stage]
        print(f"  stage {stage:<8}           : {secs:6.1f} s ({secs / wall:.0%})")
    rest = wall - stages["data"] - stages["pretrain"] - stages["rl"]
    print(f"  start-up and bookkeeping   : {rest:6.1f} s ({rest / wall:.0%})")


if __name__ == "__main__":
    main()
