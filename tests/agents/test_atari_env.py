"""The two-action (`up_down`) policy env on real ALE Pong: the actions come from the ROM's
minimal set, and action 0 moves the player's paddle up, 1 down, in both env backends."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.spaces import Discrete, MultiDiscrete

from agents.atari_env import (
    ale_of,
    make_policy_env,
    make_vector_env,
    minimal_action_meanings,
    policy_actions,
    rllib_env_creator,
)

PONG = "ALE/Pong-v5"
PLAYER_Y = 51  # AtariARI: the player's paddle, larger is lower on the screen
UP, DOWN = 0, 1


def test_up_down_is_pongs_right_and_left() -> None:
    assert minimal_action_meanings(PONG) == ("NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE",
                                             "LEFTFIRE")
    assert policy_actions(PONG, "up_down") == (2, 3)  # Karpathy's "Pong from Pixels"
    assert policy_actions(PONG) == tuple(range(6))


@pytest.mark.parametrize("game", ["ALE/Breakout-v5", "ALE/Freeway-v5"])
def test_up_down_is_refused_for_games_outside_the_table(game: str) -> None:
    with pytest.raises(ValueError, match=f"no up/down action pair known for {game}"):
        policy_actions(game, "up_down")
    with pytest.raises(ValueError, match="no up/down action pair"):
        make_policy_env(game, actions="up_down")


def _player_y_after(env, action: int, steps: int = 4) -> tuple[int, int]:
    env.reset(seed=0)
    before = int(ale_of(env).getRAM()[PLAYER_Y])
    for _ in range(steps):
        env.step(action)
    return before, int(ale_of(env).getRAM()[PLAYER_Y])


def test_single_env_moves_the_paddle_up_on_0_and_down_on_1() -> None:
    env = make_policy_env(PONG, actions="up_down", noop_max=0)
    try:
        assert env.action_space == Discrete(2)
        assert env.observation_space.shape == (4, 84, 84)
        before, after = _player_y_after(env, UP)
        assert after < before - 20, (before, after)
        before, after = _player_y_after(env, DOWN)
        assert after > before + 20, (before, after)
    finally:
        env.close()


def _paddle_row(frame: np.ndarray) -> float:
    # The player's paddle is the only thing in column 74 of the 84x84 frame that column 70
    # (same background and walls) lacks, while the ball is far away.
    return float(np.flatnonzero(frame[:, 74] != frame[:, 70]).mean())


def test_vector_env_has_the_same_two_actions() -> None:
    env = make_vector_env(PONG, 2, actions="up_down", noop_max=0)
    try:
        assert env.single_action_space == Discrete(2)
        assert env.action_space == MultiDiscrete([2, 2])
        np.testing.assert_array_equal(env.actions(np.array([UP, DOWN])), [2, 3])
        obs, _ = env.reset(seed=0)
        assert _paddle_row(obs[0, -1]) == _paddle_row(obs[1, -1])
        for _ in range(4):  # env 0 goes up, env 1 down, from the same start
            obs, *_ = env.step(np.array([UP, DOWN]))
        up, down = _paddle_row(obs[0, -1]), _paddle_row(obs[1, -1])
        assert up < down - 20, (up, down)
    finally:
        env.close()


@pytest.mark.parametrize("backend", ["ale_vector", "gymnasium"])
def test_rllib_env_creator_passes_the_action_set(backend: str) -> None:
    env = rllib_env_creator({"game": PONG, "backend": backend, "num_envs": 2,
                             "actions": "up_down"})
    try:
        assert env.single_action_space == Discrete(2)
    finally:
        env.close()
