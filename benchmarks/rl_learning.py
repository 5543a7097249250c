"""Learning benchmark: Pong evaluation return at 250k / 500k / 1M / 2M env steps.

Start a long run (in the background; it checkpoints, so `--resume` continues it):

    .venv/bin/arcadelab rl --work-dir .arcadelab/learning --set rl.iterations=500

then read how far it got, from its MLflow store, at any time:

    .venv/bin/python benchmarks/rl_learning.py --work-dir .arcadelab/learning
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlflow import MlflowClient

from pipelines.rl_train import EVAL_MARKS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work-dir", type=Path, default=Path(".arcadelab/learning"))
    args = ap.parse_args()
    client = MlflowClient(f"sqlite:///{(args.work_dir / 'mlflow.db').resolve()}")
    runs = [r for e in client.search_experiments()
            for r in client.search_runs([e.experiment_id], "tags.`arcadelab.stage` = 'rl'")]
    if not runs:
        raise SystemExit(f"no rl run in {args.work_dir}")
    for run in sorted(runs, key=lambda r: r.info.start_time):
        evals = client.get_metric_history(run.info.run_id, "rl/eval_return")
        steps = client.get_metric_history(run.info.run_id, "rl/env_steps_sampled")
        train = client.get_metric_history(run.info.run_id, "rl/episode_return_mean")
        rate = run.data.metrics.get("rl/env_steps_per_s_overall")
        last = max((m.step for m in steps), default=0)
        print(f"run {run.info.run_id[:8]} ({run.info.status}): {last} env steps, "
              f"{len(evals)} evaluations" + (f", {rate:.0f} env steps/s" if rate else ""))
        for mark in EVAL_MARKS:
            after = [m for m in sorted(evals, key=lambda m: m.step) if m.step >= mark]
            shown = f"{after[0].value:+.1f} (at {after[0].step})" if after else "not reached"
            print(f"  eval return at {mark:>9,}: {shown}")
        if train:
            best = max(train, key=lambda m: m.value)
            print(f"  best training mean return {best.value:+.2f} at {best.step}; "
                  f"last {train[-1].value:+.2f}")


if __name__ == "__main__":
    main()
