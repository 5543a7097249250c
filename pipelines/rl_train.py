"""RL stage: PPO on RLlib (new API stack), metrics per iteration, checkpoint to MLflow."""

from __future__ import annotations

import logging
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow

from agents.ppo import build_ppo_config
from pipelines.config import ArcadeConfig
from pipelines.plots import line_chart
from pipelines.tracking import log_metrics

log = logging.getLogger("arcadelab")


@dataclass(frozen=True)
class RLResult:
    iterations: int
    env_steps: int
    episode_return_mean: float | None
    env_steps_per_s: float
    checkpoint: Path

    def describe(self) -> str:
        ret = "n/a" if self.episode_return_mean is None else f"{self.episode_return_mean:.2f}"
        return (f"{self.env_steps} env steps, return {ret}, {self.env_steps_per_s:.0f} env "
                f"steps/s; checkpoint {self.checkpoint}")


def iteration_metrics(result: dict[str, Any]) -> dict[str, float]:
    """Namespaced `rl/…` metrics out of one `Algorithm.train()` result."""
    runners = result.get("env_runners", {})
    learner = result.get("learners", {}).get("default_policy", {})
    steps = float(runners.get("num_env_steps_sampled", 0.0))
    sample_s = result.get("timers", {}).get("env_runner_sampling_timer", math.nan)
    return {
        "rl/episode_return_mean": runners.get("episode_return_mean", math.nan),
        "rl/episode_len_mean": runners.get("episode_len_mean", math.nan),
        "rl/episodes": runners.get("num_episodes_lifetime", math.nan),
        "rl/env_steps_sampled": float(result.get("num_env_steps_sampled_lifetime", 0.0)),
        "rl/env_steps_per_s": steps / max(result.get("time_this_iter_s", math.nan), 1e-9),
        "rl/sample_steps_per_s": steps / max(sample_s, 1e-9),
        "rl/policy_loss": learner.get("policy_loss", math.nan),
        "rl/vf_loss": learner.get("vf_loss", math.nan),
        "rl/entropy": learner.get("entropy", math.nan),
        "rl/mean_kl": learner.get("mean_kl_loss", math.nan),
        "rl/vf_explained_var": learner.get("vf_explained_var", math.nan),
    }


def train_ppo(cfg: ArcadeConfig) -> RLResult:
    """Train PPO for `cfg.rl.iterations`; logs to the active MLflow run."""
    rl = cfg.rl
    run = mlflow.active_run()
    run_id = run.info.run_id if run else "norun"
    ckpt_dir = (cfg.runtime.work_dir / "checkpoints" / f"rl-{run_id}").resolve()
    algo = build_ppo_config(cfg.game, rl, cfg.seed).build_algo()
    curve: tuple[list[float], list[float]] = ([], [])
    metrics: dict[str, float] = {}
    start = time.perf_counter()
    try:
        for it in range(1, rl.iterations + 1):
            metrics = iteration_metrics(algo.train())
            steps = int(metrics["rl/env_steps_sampled"])
            log_metrics(metrics, step=steps)
            ret = metrics["rl/episode_return_mean"]
            if not math.isnan(ret):
                curve[0].append(steps)
                curve[1].append(ret)
            log.info("rl: iter %d/%d  env steps %d  return %.2f  %.0f env steps/s", it,
                     rl.iterations, steps, ret, metrics["rl/env_steps_per_s"])
            if it % rl.checkpoint_every == 0 or it == rl.iterations:
                algo.save_to_path(str(ckpt_dir))
    finally:
        algo.stop()
    elapsed = time.perf_counter() - start
    env_steps = int(metrics.get("rl/env_steps_sampled", 0))
    log_metrics({"rl/train_time_s": elapsed, "rl/env_steps_per_s_overall": env_steps / elapsed})
    mlflow.log_artifacts(str(ckpt_dir), "checkpoint")
    if curve[0]:
        with tempfile.TemporaryDirectory() as tmp:
            png = line_chart({"PPO": curve}, Path(tmp) / "learning_curve.png",
                             f"PPO on {cfg.game}", "env steps", "episode return (mean)")
            mlflow.log_artifact(str(png), "rl")
    final = metrics.get("rl/episode_return_mean", math.nan)
    return RLResult(rl.iterations, env_steps, None if math.isnan(final) else final,
                    env_steps / elapsed, ckpt_dir)
