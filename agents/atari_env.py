"""ALE env factories: the raw three-modality env for data collection and the preprocessed
pixel env the policy plays (frame skip + max-pool, grayscale, 84x84, frame stack, no-op starts).

Both are plain gymnasium envs built by `gym.make`, so ALE ROMs come from ale-py itself. The
policy env offers two action sets (`actions`): `full`, the game's minimal action set, or
`up_down`, the course's two-action policy (Karpathy's "Pong from Pixels": up or down only).
"""

from __future__ import annotations

import difflib
import hashlib
from functools import cache, partial
from pathlib import Path
from typing import Any, Literal

import ale_py
import gymnasium as gym
import numpy as np

from agents.ale_facts import rom_facts

# Name under which RLlib env runners build the policy env (see `rllib_env_creator`).
RLLIB_ENV_NAME = "arcadelab/atari"

ActionSet = Literal["full", "up_down"]
# `up_down`: per ROM, the minimal-set actions that move the player up and down. Listed, not
# guessed: what a joystick direction does differs per game (Pong's paddle goes up on RIGHT and
# down on LEFT, Karpathy's actions 2 and 3; Breakout's RIGHT/LEFT move it sideways), so a game
# joins this table with a test that reads its RAM (tests/agents/test_atari_env.py).
UP_DOWN_ACTIONS: dict[str, tuple[str, str]] = {"pong": ("RIGHT", "LEFT")}


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


def minimal_action_meanings(game: str) -> tuple[str, ...]:
    """The game's minimal action set, by name, in the order of its env's `Discrete` actions
    (Pong: NOOP, FIRE, RIGHT, LEFT, RIGHTFIRE, LEFTFIRE); from the shipped ROM facts."""
    return tuple(rom_facts(rom_name(game))["minimal_actions"])


def policy_actions(game: str, actions: ActionSet = "full") -> tuple[int, ...]:
    """The env actions (indices into the minimal action set) that a policy's outputs 0..k-1
    stand for: all of them (`full`), or the up and down pair (`up_down`, games in
    `UP_DOWN_ACTIONS` only; ValueError for others)."""
    meanings = minimal_action_meanings(game)
    if actions == "full":
        return tuple(range(len(meanings)))
    if actions != "up_down":
        raise ValueError(f"unknown action set {actions!r} (full or up_down)")
    rom = rom_name(game)
    if rom not in UP_DOWN_ACTIONS:
        raise ValueError(f"up_down: no up/down action pair known for {game} (known: "
                         f"{', '.join(sorted(UP_DOWN_ACTIONS))}); use full")
    return tuple(meanings.index(name) for name in UP_DOWN_ACTIONS[rom])


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
    actions: ActionSet = "full",
) -> gym.Env:
    """The policy's view: uint8 observations of shape (frame_stack, screen_size, screen_size).

    Uses gymnasium's own AtariPreprocessing (Machado et al. 2018 / Nature DQN protocol) and
    FrameStackObservation; `mode` / `difficulty` pick a game variant (None: the default);
    `actions=up_down` makes the action space Discrete(2): 0 up, 1 down.
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
    env = gym.wrappers.FrameStackObservation(env, stack_size=frame_stack)
    if actions == "full":
        return env
    pair = policy_actions(game, actions)
    meanings = env.unwrapped.get_action_meanings()
    if tuple(meanings[a] for a in pair) != UP_DOWN_ACTIONS[rom_name(game)]:
        raise RuntimeError(f"{game}: env actions {pair} are {[meanings[a] for a in pair]}, "
                           f"not {UP_DOWN_ACTIONS[rom_name(game)]}")
    return gym.wrappers.TransformAction(env, lambda a: pair[int(a)], gym.spaces.Discrete(2))


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
    actions: ActionSet = "full",
) -> gym.vector.VectorEnv:
    """ale-py's `AtariVectorEnv`: the same preprocessing (and `actions`) as `make_policy_env`,
    done for all `num_envs` games in C++ threads (no Python per frame), autoreset on the next
    step.

    Rewards stay unclipped here: the learner clips them (RLlib's `clip_rewards`), so episode
    returns in the metrics are real game scores.
    """
    from ale_py.vector_env import AtariVectorEnv

    env = AtariVectorEnv(
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
    if actions == "full":
        return env
    # The C++ env takes an int array of minimal-set indices, one per env.
    pair = np.asarray(policy_actions(game, actions), np.int64)
    return gym.wrappers.vector.TransformAction(
        env, lambda a: pair[np.asarray(a, np.int64)], single_action_space=gym.spaces.Discrete(2))


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
    mix = kwargs.pop("mix", None)
    if mix:  # a uniform mix of variants: env i plays variant i mod n (gymnasium backend)
        if backend != "gymnasium":
            raise ValueError("a mix of game variants needs backend=gymnasium")
        variants = [{**kwargs, **mix[i % len(mix)]} for i in range(num_envs or 1)]
        if num_envs is None:
            return make_policy_env(game, **variants[0])
        return gym.vector.SyncVectorEnv([partial(make_policy_env, game, **v) for v in variants])
    if num_envs is not None and backend == "ale_vector":
        return make_vector_env(game, num_envs, num_threads=num_threads, **kwargs)
    if num_envs is not None:
        return gym.vector.SyncVectorEnv([lambda: make_policy_env(game, **kwargs)] * num_envs)
    return make_policy_env(game, **kwargs)


