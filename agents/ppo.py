"""PPO on RLlib's new API stack, built from our typed RL config."""

from __future__ import annotations

from typing import Literal, Protocol

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.tune.registry import register_env

from agents.atari_env import RLLIB_ENV_NAME, rllib_env_creator
from agents.rl_module import ActorCriticModule


class PPOSettings(Protocol):
    """What PPO reads from a config (pipelines.config.RLConfig satisfies it)."""

    num_env_runners: int
    num_envs_per_env_runner: int
    rollout_fragment_length: int | Literal["auto"]
    train_batch_size: int
    minibatch_size: int
    num_epochs: int
    lr: float
    gamma: float
    gae_lambda: float
    clip_param: float
    vf_loss_coeff: float
    entropy_coeff: float
    grad_clip: float
    num_learners: int
    num_gpus_per_learner: float
    feature_dim: int
    frameskip: int
    screen_size: int
    frame_stack: int
    noop_max: int
    repeat_action_probability: float
    max_episode_steps: int | None


def env_config(game: str, rl: PPOSettings) -> dict[str, object]:
    """Keyword args for `make_policy_env` from an RLConfig."""
    return {
        "game": game,
        "frameskip": rl.frameskip,
        "screen_size": rl.screen_size,
        "frame_stack": rl.frame_stack,
        "noop_max": rl.noop_max,
        "repeat_action_probability": rl.repeat_action_probability,
        "max_episode_steps": rl.max_episode_steps,
    }


def build_ppo_config(game: str, rl: PPOSettings, seed: int) -> PPOConfig:
    """PPOConfig with our env, module and hyperparameters."""
    register_env(RLLIB_ENV_NAME, rllib_env_creator)
    return (
        PPOConfig()
        .environment(RLLIB_ENV_NAME, env_config=env_config(game, rl), clip_rewards=True)
        .env_runners(
            num_env_runners=rl.num_env_runners,
            num_envs_per_env_runner=rl.num_envs_per_env_runner,
            rollout_fragment_length=rl.rollout_fragment_length,
        )
        .learners(num_learners=rl.num_learners, num_gpus_per_learner=rl.num_gpus_per_learner)
        .training(
            lr=rl.lr,
            gamma=rl.gamma,
            lambda_=rl.gae_lambda,
            clip_param=rl.clip_param,
            vf_loss_coeff=rl.vf_loss_coeff,
            entropy_coeff=rl.entropy_coeff,
            grad_clip=rl.grad_clip,
            grad_clip_by="global_norm",
            train_batch_size_per_learner=rl.train_batch_size,
            minibatch_size=rl.minibatch_size,
            num_epochs=rl.num_epochs,
            vf_clip_param=10.0,
        )
        .rl_module(
            rl_module_spec=RLModuleSpec(
                module_class=ActorCriticModule, model_config={"feature_dim": rl.feature_dim}
            )
        )
        .debugging(seed=seed)
    )
