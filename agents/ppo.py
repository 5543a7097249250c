"""PPO, APPO and REINFORCE on RLlib's new API stack, built from our typed RL config."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.appo import APPOConfig
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.tune.registry import register_env

from agents.atari_env import RLLIB_ENV_NAME, rllib_env_creator
from agents.learners import ReinforceLearner, TransferAPPOLearner, TransferPPOLearner
from agents.rl_module import ActorCriticModule, TargetActorCriticModule, encoder_model_config
from models.encoder import EncoderSpec


class PPOSettings(Protocol):
    """What the builders read from a config (pipelines.core.config.RLConfig satisfies it)."""

    algorithm: str
    actions: str
    env_backend: str
    env_threads: int
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
    arch: str
    feature_dim: int
    transfer: str
    finetune_lr_scale: float
    frameskip: int
    screen_size: int
    frame_stack: int
    noop_max: int
    repeat_action_probability: float
    max_episode_steps: int | None


def env_config(game: str, rl: PPOSettings, **task: int) -> dict[str, Any]:
    """Keyword args for `rllib_env_creator` from an RLConfig (plus curriculum-task overrides)."""
    return {
        "game": game,
        "backend": rl.env_backend,
        "actions": rl.actions,
        "num_threads": rl.env_threads,
        "frameskip": rl.frameskip,
        "screen_size": rl.screen_size,
        "frame_stack": rl.frame_stack,
        "noop_max": rl.noop_max,
        "repeat_action_probability": rl.repeat_action_probability,
        "max_episode_steps": rl.max_episode_steps,
        **task,
    }


def scratch_spec(rl: PPOSettings) -> EncoderSpec:
    return EncoderSpec(rl.arch, rl.frame_stack, rl.screen_size, rl.screen_size, rl.feature_dim)


def build_algo_config(game: str, rl: PPOSettings, seed: int,
                      encoder: tuple[EncoderSpec, dict[str, Any]] | None = None,
                      task: dict[str, int] | None = None) -> AlgorithmConfig:
    """The RLlib config: PPO, APPO or REINFORCE on the same module, env and connector stack.

    `encoder`: pretrained (spec, state_dict) for the `frozen` / `finetune` transfer modes.
    """
    register_env(RLLIB_ENV_NAME, rllib_env_creator)
    spec, state = encoder if encoder is not None else (scratch_spec(rl), None)
    reinforce, appo = rl.algorithm == "reinforce", rl.algorithm == "appo"
    config = (APPOConfig() if appo else PPOConfig())
    config = (
        config
        .environment(RLLIB_ENV_NAME, env_config=env_config(game, rl, **(task or {})))
        .env_runners(
            num_env_runners=rl.num_env_runners,
            num_envs_per_env_runner=rl.num_envs_per_env_runner,
            rollout_fragment_length=rl.rollout_fragment_length,
            # Our creator returns ale-py's C++ vector env when RLlib asks for `num_envs`.
            gym_env_vectorize_mode="vector_entry_point",
            # REINFORCE needs whole episodes: its return G_t is never bootstrapped.
            batch_mode="complete_episodes" if reinforce else "truncate_episodes",
        )
        .learners(
            num_learners=rl.num_learners,
            num_gpus_per_learner=rl.num_gpus_per_learner,
            learner_class=(TransferAPPOLearner if appo else ReinforceLearner if reinforce
                           else TransferPPOLearner),
            # Rewards are clipped on the learner only (agents/learners.py: ClipRewards).
            learner_config_dict={"finetune_lr_scale": rl.finetune_lr_scale, "clip_rewards": True},
        )
        .rl_module(
            rl_module_spec=RLModuleSpec(
                module_class=TargetActorCriticModule if appo else ActorCriticModule,
                model_config=encoder_model_config(spec, state, rl.transfer),
            )
        )
        # A dead env runner is replaced and training goes on (curriculum re-applies its task).
        .fault_tolerance(restart_failed_env_runners=True, max_num_env_runner_restarts=100,
                         delay_between_env_runner_restarts_s=1.0)
        # No system monitor: nothing reads its CPU/RAM figures, and it asks for GPUtil.
        .debugging(seed=seed, log_sys_usage=False)
    )
    common = {"lr": rl.lr, "gamma": rl.gamma, "clip_param": rl.clip_param,
              "vf_loss_coeff": rl.vf_loss_coeff, "entropy_coeff": rl.entropy_coeff,
              "use_kl_loss": False,  # clipping alone, as in the PPO paper's Atari runs
              "grad_clip": rl.grad_clip, "grad_clip_by": "global_norm",
              "train_batch_size_per_learner": rl.train_batch_size}
    if appo:
        # V-trace corrects for the env runners' slightly stale policy; each batch is replayed
        # num_epochs times from the learner's circular buffer (APPO's epochs).
        return config.training(**common, vtrace=True,
                               circular_buffer_iterations_per_batch=rl.num_epochs)
    return config.training(
        **common,
        lambda_=1.0 if reinforce else rl.gae_lambda,
        # Vanilla policy gradient: one full-batch step per batch of episodes.
        minibatch_size=rl.train_batch_size if reinforce else rl.minibatch_size,
        num_epochs=1 if reinforce else rl.num_epochs,
        vf_clip_param=10.0,
    )
