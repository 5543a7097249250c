"""Watch the policy play: a greedy episode in a rendering env, saved as an animated GIF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from agents.atari_env import make_policy_env
from models.actor_critic import ActorCritic


def greedy_action(net: ActorCritic, obs: np.ndarray) -> int:
    with torch.no_grad():
        logits = net.logits(net.features(torch.as_tensor(obs[None])))
    return int(logits.argmax(-1).item())


def record_gif(net: ActorCritic, env_kwargs: dict[str, Any], path: Path, max_steps: int,
               seed: int = 0, every: int = 2, fps: int = 15) -> tuple[Path, float, int]:
    """Play one greedy episode (up to `max_steps` agent steps) and write every `every`-th
    rendered frame to `path`; returns (path, score so far, agent steps played)."""
    kwargs = {k: v for k, v in env_kwargs.items() if k not in ("backend", "num_threads")}
    env = make_policy_env(kwargs.pop("game"), render_mode="rgb_array", **kwargs)
    frames: list[Image.Image] = []
    score, steps = 0.0, 0
    try:
        obs, _ = env.reset(seed=seed)
        net.eval()
        for steps in range(1, max_steps + 1):
            obs, reward, terminated, truncated, _ = env.step(greedy_action(net, obs))
            score += float(reward)
            if steps % every == 0:
                frames.append(Image.fromarray(env.render()))
            if terminated or truncated:
                break
    finally:
        env.close()
    if not frames:
        raise ValueError(f"no frames recorded (max_steps={max_steps}, every={every})")
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 / fps),
                   loop=0, optimize=True)
    return path, score, steps
