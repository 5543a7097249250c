"""Data-prep throughput against its physical limit, measured side by side in one run.

Limit: raw ALE stepping of the same env (grayscale 210x160 + sound, frameskip 4) in one
process, with no recording. Measured: the data prep stage (N Ray tasks, Arrow rows, split,
checksummed Parquet), in env steps/s. Prints both and their ratio; with N tasks on N cores the
ideal ratio is N.

    .venv/bin/python benchmarks/data_prep.py --steps 10000 --tasks 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import ray

from agents.atari_env import make_collect_env
from pipelines.core import tracking
from pipelines.core.config import load_config
from pipelines.data.prep import prepare_data
from pipelines.data.rollouts import RolloutSpec, collect_rollout


def raw_ale_steps_per_s(game: str, steps: int) -> float:
    env = make_collect_env(game)
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
    return steps / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10000, help="env steps per task")
    ap.add_argument("--tasks", type=int, default=2, help="parallel Ray tasks")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config("smoke", sets=[f"data.steps_per_task={args.steps}",
                                         f"data.num_tasks={args.tasks}",
                                         "data.max_episode_steps=null",
                                         "data.rows_per_shard=2000"],
                          runtime={"work_dir": Path(tmp),
                                   "mlflow_tracking_uri": f"sqlite:///{tmp}/mlflow.db"})
        ray.init(num_cpus=args.tasks, include_dashboard=False, log_to_driver=False)
        raw = raw_ale_steps_per_s(cfg.game, args.steps)
        start = time.perf_counter()
        collect_rollout(RolloutSpec(cfg.game, 0, 0, args.steps))
        worker = args.steps / (time.perf_counter() - start)
        start = time.perf_counter()
        with tracking.stage_run(cfg, "data"):
            result = prepare_data(cfg)
        wall = time.perf_counter() - start
        ray.shutdown()
        disk = sum((result.path / s.name).stat().st_size for s in result.manifest.shards)
    total = args.tasks * args.steps
    print(f"raw ALE, 1 process           : {raw:8.0f} env steps/s")
    print(f"rollout worker, 1 process    : {worker:8.0f} env steps/s ({worker / raw:.2f}x raw; "
          "frame + RAM + sound recorded, hashed, labelled)")
    print(f"data prep, rollouts only     : {result.env_steps_per_s:8.0f} env steps/s "
          f"({result.env_steps_per_s / raw:.2f}x raw, {args.tasks} tasks)")
    print(f"data prep, whole stage       : {total / wall:8.0f} env steps/s "
          f"({total / wall / raw:.2f}x raw; split + Parquet + MLflow included)")
    print(f"dataset: {result.manifest.rows} rows, {disk / 1e6:.1f} MB on disk vs "
          f"{result.manifest.rows * 210 * 160 / 1e6:.1f} MB of raw frames "
          f"({result.manifest.rows * 210 * 160 / disk:.0f}x smaller)")


if __name__ == "__main__":
    main()
