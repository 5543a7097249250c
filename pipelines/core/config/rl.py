"""Reinforcement learning on the game (`rl`, with its curriculum over game variants), the
encoder-transfer experiment (`transfer`) and zero-shot policy transfer (`policy_transfer`),
with their preset sizes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from pipelines.core.config.base import _distinct, _Section
from pipelines.core.game_fit import tasks_problem

CURRICULUM_KEYS = ("mode", "difficulty", "frameskip")


class CurriculumConfig(_Section):
    """A curriculum over game variants: promote on a high recent return, demote on a low one."""

    tasks: tuple[dict[str, int], ...] = Field(
        (), description="env overrides per stage in order, e.g. {mode: 0, difficulty: 0}; "
        "keys: mode, difficulty (gymnasium backend), frameskip; empty: no curriculum")
    promote_at: float = Field(-5.0, description="mean episode return that moves to the next task")
    demote_at: float | None = Field(
        None, description="mean return that moves back a task (None: never demote)")
    min_episodes: int = Field(5, ge=1, description="episodes on a task before it can change")
    order: Literal["promote", "mix"] = Field(
        "promote", description="promote: one task at a time, moving on by return (the "
        "curriculum); mix: every task from the start, env i of each runner playing task "
        "i mod n (the control: the same exposure without an order)")

    @field_validator("tasks")
    @classmethod
    def _known_keys(cls, v: tuple[dict[str, int], ...]) -> tuple[dict[str, int], ...]:
        for i, task in enumerate(v):
            unknown = set(task) - set(CURRICULUM_KEYS)
            if unknown or not task:
                raise ValueError(f"task {i} {task}: keys must be a non-empty subset of "
                                 f"{CURRICULUM_KEYS}")
            if any(isinstance(x, bool) or not isinstance(x, int) or x < 0 for x in task.values()):
                raise ValueError(f"task {i} {task}: values must be integers >= 0")
        return v

    @model_validator(mode="after")
    def _demote_below_promote(self) -> CurriculumConfig:
        if self.demote_at is not None and self.demote_at >= self.promote_at:
            raise ValueError(f"demote_at: {self.demote_at} must be below promote_at "
                             f"({self.promote_at})")
        return self


class RLConfig(_Section):
    """PPO (or REINFORCE) on RLlib's new API stack over the preprocessed pixel env."""

    algorithm: Literal["ppo", "appo", "reinforce"] = Field(
        "ppo", description="ppo, appo (asynchronous PPO with V-trace) or the course's reinforce")
    # The course's Pong policy network chooses only up or down (Karpathy's "Pong from Pixels").
    actions: Literal["full", "up_down"] = Field(
        "full", description="full: the game's minimal action set; up_down: two actions, up "
        "and down (games in agents.atari_env.UP_DOWN_ACTIONS: Pong)")
    iterations: int = Field(50, ge=1, description="training iterations")
    env_backend: Literal["ale_vector", "gymnasium"] = Field(
        "ale_vector", description="ale_vector: ale-py's C++ AtariVectorEnv; gymnasium: "
        "AtariPreprocessing wrappers (needed for game modes/difficulties)")
    # Laptop defaults: 2 env runner processes x 16 envs, one C++ env thread each, so one
    # runner's env stepping overlaps the other's inference (sampling 0.60x raw ALE against
    # 0.43x for 32 envs in the driver; docs/benchmarks.md).
    env_threads: int = Field(1, ge=0, description="AtariVectorEnv threads per runner (0: all)")
    num_env_runners: int = Field(2, ge=0, description="remote env runner actors (0: in-process)")
    num_envs_per_env_runner: int = Field(16, ge=1, description="vectorised envs per runner")
    rollout_fragment_length: int | Literal["auto"] = Field("auto", description="steps per env")
    train_batch_size: int = Field(4_096, ge=1, description="env steps per learner per iteration")
    # rl-zoo3's update count (4 epochs x 256): 64 gradient steps per 4096 env steps. Fewer
    # steps are faster per env step but learn far slower per env step: measured to 2M steps,
    # 4x256 reaches +19.5, 2x256 -6, 2x512 -14 (docs/benchmarks.md, learning).
    minibatch_size: int = Field(256, ge=1, description="SGD minibatch size")
    num_epochs: int = Field(4, ge=1, description="passes over each train batch")
    lr: float = Field(2.5e-4, gt=0, description="Adam learning rate")
    gamma: float = Field(0.99, gt=0, le=1, description="discount")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE lambda")
    clip_param: float = Field(0.1, gt=0, description="PPO ratio clip")
    vf_loss_coeff: float = Field(0.5, ge=0, description="value loss weight")
    entropy_coeff: float = Field(0.01, ge=0, description="entropy bonus weight")
    grad_clip: float = Field(0.5, gt=0, description="global gradient-norm clip")
    num_learners: int = Field(0, ge=0, description="remote learner actors (0: in the driver)")
    num_gpus_per_learner: float = Field(0.0, ge=0, description="GPUs per learner")
    torch_threads: int | None = Field(None, ge=1, description="torch threads in the driver")
    arch: Literal["nature_cnn", "small_cnn"] = Field(
        "small_cnn", description="encoder trained from scratch (transfer uses the registry's)")
    feature_dim: int = Field(256, ge=1, description="encoder output size (scratch)")
    transfer: Literal["scratch", "frozen", "finetune"] = Field(
        "scratch", description="scratch, or the registry encoder frozen / fine-tuned")
    encoder_alias: str = Field("champion", description="models:/arcadelab-encoder@<alias>")
    # 1.0 since session 8, measured on Pong (docs/pretraining.md#transfer-into-the-policy):
    # at 0.1 the fine-tuned encoder had not left -20 by 0.94M env steps; at 1.0 it took off
    # at 0.25M, 0.35M env steps before scratch.
    finetune_lr_scale: float = Field(1.0, gt=0, le=1, description="encoder lr = lr * this "
                                     "(1: initialisation is the only difference from scratch)")
    frameskip: int = Field(4, ge=1, description="agent steps repeat the action this many frames")
    screen_size: int = Field(84, ge=16, description="observation height and width")
    frame_stack: int = Field(4, ge=1, description="stacked frames per observation")
    noop_max: int = Field(30, ge=0, description="random no-ops at reset")
    repeat_action_probability: float = Field(0.0, ge=0, le=1, description="sticky actions")
    max_episode_steps: int | None = Field(None, ge=1, description="cut episodes (agent steps)")
    checkpoint_every: int = Field(10, ge=1, description="save a checkpoint every N iterations")
    evaluation_every: int = Field(10, ge=0, description="evaluate every N iterations (0: off)")
    evaluation_episodes: int = Field(2, ge=1, description="greedy episodes per evaluation")
    video_max_steps: int = Field(
        600, ge=0, description="agent steps in each evaluation GIF (0: no video)")
    register_policy: bool = Field(True, description="register the final policy (arcadelab-policy)")
    curriculum: CurriculumConfig = CurriculumConfig()

    @model_validator(mode="after")
    def _consistent(self) -> RLConfig:
        if self.minibatch_size > self.train_batch_size:
            raise ValueError(
                f"minibatch_size: {self.minibatch_size} exceeds train_batch_size "
                f"({self.train_batch_size})"
            )
        variant = {"mode", "difficulty"} & {k for t in self.curriculum.tasks for k in t}
        if variant and self.env_backend != "gymnasium":
            raise ValueError(f"env_backend: curriculum keys {sorted(variant)} need "
                             "env_backend=gymnasium (ale-py's vector env has no game modes)")
        return self

    def game_problem(self, game: str) -> str | None:
        """Why these settings cannot play `game`, if so (ArcadeConfig asks: it knows the game)."""
        from agents.atari_env import policy_actions

        try:
            policy_actions(game, self.actions)
        except ValueError as exc:
            return f"actions: {exc}"
        problem = tasks_problem(game, self.curriculum.tasks)
        return None if problem is None else f"curriculum: {problem}"


class TransferConfig(_Section):
    """Transfer experiment: scratch vs frozen vs fine-tuned pretrained encoder, same budget."""

    modes: tuple[Literal["scratch", "frozen", "finetune"], ...] = Field(
        ("scratch", "frozen", "finetune"), description="arms of the experiment")
    return_thresholds: tuple[float, ...] = Field(
        (-20.0, -15.0, -10.0, 0.0), description="report env steps to reach each mean return")
    iterations: int | None = Field(None, ge=1, description="per arm (None: rl.iterations)")

    @field_validator("modes")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _distinct(v, "modes must be distinct and non-empty")


class PolicyTransferConfig(_Section):
    """Zero-shot policy transfer: the registered policy played greedily on game variants
    (modes x difficulties), most of which it never trained on."""

    alias: str = Field("current", description="models:/arcadelab-policy@<alias>")
    modes: tuple[int, ...] | None = Field(
        None, description="game modes to play (None: every mode the game has)")
    difficulties: tuple[int, ...] | None = Field(
        None, description="difficulty switches to play (None: every one the game has)")
    episodes: int = Field(3, ge=1, description="greedy episodes per variant")
    max_episode_steps: int | None = Field(
        None, ge=1, description="cut episodes after this many agent steps; None: to game over")

    @field_validator("modes", "difficulties")
    @classmethod
    def _distinct_variants(cls, v: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if v is not None and min(v, default=0) < 0:
            raise ValueError(f"must be integers >= 0 (got {v})")
        return v if v is None else _distinct(v, "must be distinct and non-empty")


# These sections' overrides per preset (presets.py gathers every section's); laptop: the defaults.
PRESET_SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "rl": {"iterations": 2, "num_env_runners": 1, "num_envs_per_env_runner": 2,
               "train_batch_size": 256, "minibatch_size": 128, "num_epochs": 1,
               "max_episode_steps": 100, "checkpoint_every": 1, "evaluation_every": 2,
               "evaluation_episodes": 1, "video_max_steps": 50},
        "transfer": {"iterations": 1},
        # Every variant the game has (8 for Pong), each cut short: tiny, and valid for any game.
        "policy_transfer": {"episodes": 1, "max_episode_steps": 100},
    },
    "cluster": {
        "rl": {"iterations": 500, "num_env_runners": 32, "num_envs_per_env_runner": 8,
               "train_batch_size": 16_384, "minibatch_size": 1_024, "num_epochs": 4,
               "num_learners": 2, "num_gpus_per_learner": 1.0, "arch": "nature_cnn",
               "feature_dim": 512, "env_threads": 1},
    },
}
