"""RL throughput on this machine, measured side by side in one run, as ratios:

1. raw ale-py `AtariVectorEnv` env steps/s with random actions (the limit),
2. RLlib sampling env steps/s with our config (module inference + connectors + episodes),
3. end-to-end PPO training env steps/s (`Algorithm.train()`),
4. optionally stable-baselines3 PPO (rl-zoo3's Atari settings) env steps/s (`--sb3`).

    .venv/bin/python benchmarks/rl_throughput.py                  # laptop preset RL config
    .venv/bin/python benchmarks/rl_throughput.py --set rl.arch=nature_cnn --set rl.num_epochs=4
    .venv/bin/python benchmarks/rl_throughput.py --sb3             # + the SB3 peer

Prints one JSON line per measurement and a summary table. Each figure comes twice: per wall
second (what a user sees on this machine right now) and per CPU second of this process (all
its threads: torch and ale-py's C++ env threads), which is robust to other jobs sharing the
cores. Only with `rl.num_env_runners=0` do env, inference and learner all run in this process,
so that the CPU figure covers the whole pipeline; the laptop preset's 2 env runner actors are
outside it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np
import ray
import torch
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample

from agents.atari_env import make_vector_env
from agents.ppo import build_algo_config
from pipelines.core.config import load_config


def raw_vector_env(game: str, num_envs: int, seconds: float) -> dict[str, float]:
    env = make_vector_env(game, num_envs)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        env.step(rng.integers(0, env.single_action_space.n, num_envs))
        n += num_envs
    env.close()
    return {"raw_steps_per_s": n / (time.perf_counter() - start),
            "raw_steps_per_cpu_s": n / (time.process_time() - cpu)}


def rllib(cfg: Any, iterations: int) -> dict[str, float]:
    algo = build_algo_config(cfg.game, cfg.rl, cfg.seed).build_algo()
    batch = cfg.rl.train_batch_size
    try:
        algo.train()  # warm-up: env creation, first weights sync
        steps, start, cpu = 0, time.perf_counter(), time.process_time()
        for _ in range(iterations):
            result = algo.train()
            steps += int(result["env_runners"]["num_env_steps_sampled"])
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        # Then sampling alone, as PPO's training_step calls it (RLlib's per-iteration timers are
        # smoothed means, not sums, so they cannot split a few iterations' wall time). After
        # training: the env runners' metrics from these calls would count in the next result.
        sampled, start = 0, time.perf_counter()
        for _ in range(iterations):
            episodes = synchronous_parallel_sample(
                worker_set=algo.env_runner_group, max_env_steps=batch, concat=True,
                _uses_new_env_runners=True)
            sampled += sum(len(e) for e in episodes)
        sample = sampled / (time.perf_counter() - start)
    finally:
        algo.stop()
    e2e = steps / wall
    return {"e2e_steps_per_s": e2e, "e2e_steps_per_cpu_s": steps / cpu,
            "sample_steps_per_s": sample, "sample_share": e2e / sample}


def sb3_game_id(game: str) -> str:
    """`ALE/Pong-v5` -> `PongNoFrameskip-v4`: the id rl-zoo3's Atari settings are tuned on (its
    AtariWrapper skips frames itself; v5 would skip 4 more)."""
    return f"{game.split('/')[-1].split('-')[0]}NoFrameskip-v4"


def sb3(game: str, steps: int) -> dict[str, float]:
    # rl-zoo3 atari PPO: 8 envs, n_steps 128, batch 256, 4 epochs, lr 2.5e-4, clip 0.1.
    import ale_py
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gym.register_envs(ale_py)
    env = VecFrameStack(make_atari_env(game, n_envs=8, seed=0), n_stack=4)
    model = PPO("CnnPolicy", env, n_steps=128, n_epochs=4, batch_size=256, learning_rate=2.5e-4,
                clip_range=0.1, vf_coef=0.5, ent_coef=0.01, seed=0, verbose=0)
    model.learn(1024)  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    model.learn(steps, reset_num_timesteps=False)
    return {"sb3_steps_per_s": steps / (time.perf_counter() - start),
            "sb3_steps_per_cpu_s": steps / (time.process_time() - cpu)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="laptop")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--raw-seconds", type=float, default=10.0)
    ap.add_argument("--sb3", action="store_true", help="also measure stable-baselines3 PPO")
    ap.add_argument("--sb3-steps", type=int, default=8192)
    args = ap.parse_args()
    cfg = load_config(args.preset, sets=args.sets)
    if cfg.rl.torch_threads:
        torch.set_num_threads(cfg.rl.torch_threads)
    ray.init(include_dashboard=False, log_to_driver=False)
    rows = raw_vector_env(cfg.game, cfg.rl.num_envs_per_env_runner, args.raw_seconds)
    print(json.dumps(rows), flush=True)
    rl = rllib(cfg, args.iterations)
    print(json.dumps(rl), flush=True)
    rows.update(rl)
    if args.sb3:
        rows.update(sb3(sb3_game_id(cfg.game), args.sb3_steps))
        print(json.dumps({k: v for k, v in rows.items() if k.startswith("sb3")}), flush=True)
    ray.shutdown()
    raw, raw_cpu = rows["raw_steps_per_s"], rows["raw_steps_per_cpu_s"]
    print(f"\nconfig: {args.preset} {' '.join(args.sets)}  (cpus={os.cpu_count()})")
    print(f"{'':26}{'steps/s':>9} {'x raw':>6}   {'steps/CPU-s':>11} {'x raw':>6}")
    print(f"{'raw AtariVectorEnv':26}{raw:9.0f} {1:6.2f}   {raw_cpu:11.0f} {1:6.2f}")
    print(f"{'RLlib sampling':26}{rl['sample_steps_per_s']:9.0f} "
          f"{rl['sample_steps_per_s'] / raw:6.2f}")
    print(f"{'PPO end to end':26}{rl['e2e_steps_per_s']:9.0f} {rl['e2e_steps_per_s'] / raw:6.2f}"
          f"   {rl['e2e_steps_per_cpu_s']:11.0f} {rl['e2e_steps_per_cpu_s'] / raw_cpu:6.2f}"
          f"   (sampling ~{rl['sample_share']:.0%} of wall)")
    if cfg.rl.num_env_runners:
        print("  (steps/CPU-s counts this process only: the env runner actors' CPU is not in it)")
    if "sb3_steps_per_s" in rows:
        print(f"{'SB3 PPO end to end':26}{rows['sb3_steps_per_s']:9.0f} "
              f"{rows['sb3_steps_per_s'] / raw:6.2f}   {rows['sb3_steps_per_cpu_s']:11.0f} "
              f"{rows['sb3_steps_per_cpu_s'] / raw_cpu:6.2f}")


if __name__ == "__main__":
    main()
