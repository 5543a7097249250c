"""ALE env factories: the raw three-modality env for data collection and the preprocessed
pixel env the policy plays (frame skip + max-pool, grayscale, 84x84, frame stack, no-op starts).

Both are plain gymnasium envs built by `gym.make`, so ALE ROMs come from ale-py itself.
"""

from __future__ import annotations

import difflib
import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import ale_py
import gymnasium as gym

# Name under which RLlib env runners build the policy env (see `rllib_env_creator`).
RLLIB_ENV_NAME = "arcadelab/atari"


@cache
def ale_game_ids() -> tuple[str, ...]:
    """Every ALE env id gymnasium knows (e.g. `ALE/Pong-v5`)."""
    gym.register_envs(ale_py)
    return tuple(sorted(k for k in gym.envs.registry if k.startswith("ALE/")))


def check_game_id(game: str) -> str:
    """Return `game` if ALE knows it, else raise ValueError with the closest known ids."""
    ids = ale_game_ids()
    if game in ids:
        return game
    close = difflib.get_close_matches(game, ids, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else " (e.g. ALE/Pong-v5)"
    raise ValueError(f"unknown ALE game id {game!r}{hint}")


def rom_name(game: str) -> str:
    """The ROM name behind an env id: `ALE/Pong-v5` -> `pong`."""
    return str(gym.spec(check_game_id(game)).kwargs["game"])


def rom_sha256(game: str) -> str:
    """sha256 of the ROM file ale-py ships for `game` (datasets record it: other ROMs differ)."""
    path = Path(ale_py.roms.get_rom_path(rom_name(game)))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_collect_env(
    game: str,
    *,
    frameskip: int = 4,
    repeat_action_probability: float = 0.25,
    max_episode_steps: int | None = None,
) -> gym.Env:
    """Full-resolution grayscale frames (210x160) plus the step's sound; RAM via `ale_of(env)`."""
    gym.register_envs(ale_py)
    return gym.make(
        check_game_id(game),
        obs_type="grayscale",
        sound_obs=True,
        frameskip=frameskip,
        repeat_action_probability=repeat_action_probability,
        max_episode_steps=max_episode_steps,
    )


def ale_of(env: gym.Env) -> ale_py.ALEInterface:
    """The emulator behind a (wrapped) ALE env, for RAM reads and game-mode changes."""
    return env.unwrapped.ale


def make_policy_env(
    game: str,
    *,
    frameskip: int = 4,
    screen_size: int = 84,
    frame_stack: int = 4,
    noop_max: int = 30,
    repeat_action_probability: float = 0.0,
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
    mode: int | None = None,
    difficulty: int | None = None,
) -> gym.Env:
    """The policy's view: uint8 observations of shape (frame_stack, screen_size, screen_size).

    Uses gymnasium's own AtariPreprocessing (Machado et al. 2018 / Nature DQN protocol) and
    FrameStackObservation; `mode` / `difficulty` pick a game variant (None: the default).
    Observations stay uint8: the encoder scales them, which keeps the
    data moved between env runners and learners four times smaller than float32.
    """
    gym.register_envs(ale_py)
    # ALE must not skip frames itself: AtariPreprocessing skips and max-pools the last two.
    env = gym.make(
        check_game_id(game),
        frameskip=1,
        repeat_action_probability=repeat_action_probability,
        full_action_space=False,
        max_episode_steps=None if max_episode_steps is None else max_episode_steps * frameskip,
        render_mode=render_mode,
        mode=mode,
        difficulty=difficulty,
    )
    env = gym.wrappers.AtariPreprocessing(
        env,
        noop_max=noop_max,
        frame_skip=frameskip,
        screen_size=screen_size,
        terminal_on_life_loss=False,
        grayscale_obs=True,
        scale_obs=False,
    )
    return gym.wrappers.FrameStackObservation(env, stack_size=frame_stack)


def make_vector_env(
    game: str,
    num_envs: int,
    *,
    frameskip: int = 4,
    screen_size: int = 84,
    frame_stack: int = 4,
    noop_max: int = 30,
    repeat_action_probability: float = 0.0,
    max_episode_steps: int | None = None,
    num_threads: int = 0,
) -> gym.vector.VectorEnv:
    """ale-py's `AtariVectorEnv`: the same preprocessing as `make_policy_env`, done for all
    `num_envs` games in C++ threads (no Python per frame), autoreset on the next step.

    Rewards stay unclipped here: the learner clips them (RLlib's `clip_rewards`), so episode
    returns in the metrics are real game scores.
    """
    from ale_py.vector_env import AtariVectorEnv

    return AtariVectorEnv(
        rom_name(game),
        num_envs,
        frameskip=frameskip,
        img_height=screen_size,
        img_width=screen_size,
        stack_num=frame_stack,
        grayscale=True,
        maxpool=True,
        noop_max=noop_max,
        repeat_action_probability=repeat_action_probability,
        max_num_frames_per_episode=(108_000 if max_episode_steps is None
                                    else max_episode_steps * frameskip),
        reward_clipping=False,
        episodic_life=False,
        use_fire_reset=False,  # as AtariPreprocessing: the agent learns to serve
        num_threads=num_threads,
    )


def rllib_env_creator(env_config: dict[str, Any]) -> gym.Env | gym.vector.VectorEnv:
    """RLlib's env factory: `env_config` holds `game` plus `make_policy_env` keyword args.

    RLlib passes `num_envs` when it builds a vector env (`gym_env_vectorize_mode=
    "vector_entry_point"`); then `backend: ale_vector` returns ale-py's C++ vector env.
    """
    kwargs = dict(env_config)
    game = kwargs.pop("game")
    backend = kwargs.pop("backend", "gymnasium")
    num_threads = kwargs.pop("num_threads", 0)
    num_envs = kwargs.pop("num_envs", None)
    if num_envs is not None and backend == "ale_vector":
        return make_vector_env(game, num_envs, num_threads=num_threads, **kwargs)
    if num_envs is not None:
        return gym.vector.SyncVectorEnv([lambda: make_policy_env(game, **kwargs)] * num_envs)
    return make_policy_env(game, **kwargs)


