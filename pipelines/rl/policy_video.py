"""Watch the policy play: greedy episodes in the policy env, one saved as an animated GIF.

`greedy_episode` is the one greedy rollout loop of the project: the evaluation GIFs of the RL
stage and the zero-shot policy transfer stage (`pipelines/rl/policy_transfer.py`) both play it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from PIL import Image

from agents.atari_env import make_policy_env
from models.actor_critic import ActorCritic

# RLlib env-runner settings in an RL env config that a single gymnasium env does not take.
_RUNNER_ONLY = ("backend", "num_threads")


def greedy_action(net: ActorCritic, obs: np.ndarray) -> int:
    with torch.no_grad():
        logits = net.logits(net.features(torch.as_tensor(obs[None])))
    return int(logits.argmax(-1).item())


def policy_env(env_kwargs: dict[str, Any], **overrides: Any) -> gym.Env:
    """One gymnasium policy env from an RL env config (`agents.ppo.env_config`) + overrides."""
    kwargs = {k: v for k, v in {**env_kwargs, **overrides}.items() if k not in _RUNNER_ONLY}
    return make_policy_env(kwargs.pop("game"), **kwargs)


def greedy_episode(net: ActorCritic, env: gym.Env, seed: int, max_steps: int | None = None,
                   on_step: Callable[[int], None] | None = None) -> tuple[float, int]:
    """Play one episode with the argmax action (no exploration) from `env.reset(seed=seed)`,
    up to `max_steps` agent steps (None: until the env ends it); `on_step(step)` runs after
    every step. Returns (unclipped score, agent steps played)."""
    obs, _ = env.reset(seed=seed)
    net.eval()
    score, steps = 0.0, 0
    while max_steps is None or steps < max_steps:
        obs, reward, terminated, truncated, _ = env.step(greedy_action(net, obs))
        steps += 1
        score += float(reward)
        if on_step is not None:
            on_step(steps)
        if terminated or truncated:
            break
    return score, steps


def record_gif(net: ActorCritic, env_kwargs: dict[str, Any], path: Path, max_steps: int,
               seed: int = 0, every: int = 2, fps: int = 15) -> tuple[Path, float, int]:
    """Play one greedy episode (up to `max_steps` agent steps) and write every `every`-th
    rendered frame to `path`; returns (path, score so far, agent steps played)."""
    env = policy_env(env_kwargs, render_mode="rgb_array")
    frames: list[Image.Image] = []

    def grab(step: int) -> None:
        if step % every == 0:
            frames.append(Image.fromarray(env.render()))

    try:
        score, steps = greedy_episode(net, env, seed, max_steps, grab)
    finally:
        env.close()
    if not frames:
        raise ValueError(f"no frames recorded (max_steps={max_steps}, every={every})")
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 / fps),
                   loop=0, optimize=True)
    return path, score, steps
