"""The peer's learning curve: stable-baselines3 PPO (rl-zoo3's Atari settings) on Pong, with
the greedy evaluation return at the same env-step marks as `benchmarks/rl_learning.py`.

    .venv/bin/pip install -c constraints.txt -e ".[benchmark]"       # stable-baselines3
    .venv/bin/python benchmarks/sb3_learning.py --steps 250000        # ~12 min on 2 quiet cores

Env steps are agent steps (4 frames each), as in arcadelab's `rl/env_steps_sampled`. The
evaluation plays `--episodes` greedy episodes with unclipped rewards, as arcadelab's RLlib
evaluation does; one JSON line per mark, and a summary table at the end.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from stable_baselines3 import PPO

MARKS = (250_000, 500_000, 1_000_000, 2_000_000)
# rl-zoo3 atari PPO: 8 envs, n_steps 128, batch 256, 4 epochs, lr 2.5e-4 (linear decay in the
# zoo; constant here, as arcadelab's), clip 0.1, vf 0.5, ent 0.01.
N_ENVS = 8
ZOO_PPO: dict[str, Any] = {"n_steps": 128, "n_epochs": 4, "batch_size": 256,
                           "learning_rate": 2.5e-4, "clip_range": 0.1, "vf_coef": 0.5,
                           "ent_coef": 0.01}


def make_ppo(game: str, seed: int) -> PPO:
    """rl-zoo3's Atari PPO (CnnPolicy) on `N_ENVS` envs of 4 stacked frames, clipped rewards."""
    import ale_py
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gym.register_envs(ale_py)
    env = VecFrameStack(make_atari_env(game, n_envs=N_ENVS, seed=seed), n_stack=4)
    return PPO("CnnPolicy", env, seed=seed, verbose=0, **ZOO_PPO)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--game", default="PongNoFrameskip-v4")
    ap.add_argument("--steps", type=int, default=2_000_000)
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecFrameStack

    model = make_ppo(args.game, args.seed)
    # Evaluation: unclipped rewards, whole games (no end on a lost life; Pong has none anyway).
    eval_env = VecFrameStack(make_atari_env(
        args.game, n_envs=1, seed=args.seed + 100,
        wrapper_kwargs={"clip_reward": False, "terminal_on_life_loss": False}), n_stack=4)
    start, rows, done = time.perf_counter(), [], 0
    for mark in [m for m in MARKS if m <= args.steps]:
        model.learn(mark - done, reset_num_timesteps=done == 0)
        done = mark
        returns, _ = evaluate_policy(model, eval_env, n_eval_episodes=args.episodes,
                                     deterministic=True, return_episode_rewards=True)
        row = {"env_steps": mark, "eval_return": float(np.mean(returns)),
               "wall_s": round(time.perf_counter() - start, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\nSB3 PPO on {args.game}, seed {args.seed}, {args.episodes} greedy episodes per mark")
    for row in rows:
        print(f"  {row['env_steps']:>9,} env steps: eval return {row['eval_return']:+6.1f}"
              f"   ({row['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
