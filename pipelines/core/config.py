"""One typed config for every stage, with presets and overrides.

Resolution order: preset -> YAML files (in order) -> `--set a.b=value` overrides. Anything
invalid (unknown key, wrong type, negative budget, unknown game id, unknown preset) raises
`ConfigError` naming the field, before any compute starts.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agents.atari_env import check_game_id, rom_name
from pipelines.core.game_fit import (
    KNOWN_RL_CURRICULA,
    default_rl_curriculum,
    labels_problem,
    tasks_problem,
    variants_problem,
)
from pipelines.core.game_fit import game_variants as game_variants  # stages import it here

STAGES = ("data", "pretrain", "multimodal", "multitask", "gan", "fewshot", "active",
          "data_curriculum", "rl", "policy_data", "policy_transfer", "transfer", "rl_curriculum",
          "algorithms")
SSL_METHODS = ("autoencoder", "atc", "clip", "stdim")
ENCODER_VIEWS = ("stack84", "full")
CURRICULUM_KEYS = ("mode", "difficulty", "frameskip")
# What `arcadelab tune` optimises per target, and the fields a trial cannot sweep: a nested
# section, a person in the loop, the live stream (trials run pool-based loops only).
TUNE_METRICS = {"rl": "rl/episode_return_mean", "active": "al/label_savings_vs_random"}
TUNE_GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "rl": {"lr": (1e-4, 2.5e-4, 5e-4)},
    "active": {"strategies": ("margin", "bald", "coreset"), "batch_size": (200, 400)}}
TUNE_EXCLUDED = {"rl": ("curriculum",),
                 "active": ("oracle", "stream", "stream_frames", "stream_budget",
                            "stream_strategy", "stream_calibration", "stream_retrain_every",
                            "stream_threshold_step")}


class ConfigError(ValueError):
    """Invalid configuration; the message names the offending field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _no_bools_for_numbers(cls, data: Any) -> Any:
        # pydantic's lax mode reads `true` as 1; a YAML typo must not become a budget.
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                value = data.get(name)
                if isinstance(value, bool) and bool not in (field.annotation,
                                                            *get_args(field.annotation)):
                    raise ValueError(f"{name}: expected a number, got {value!r}")
        return data


_T = TypeVar("_T")


def _distinct(v: tuple[_T, ...], message: str) -> tuple[_T, ...]:
    """A non-empty tuple without repeats, else ValueError(`message` + the value)."""
    if not v or len(set(v)) != len(v):
        raise ValueError(f"{message} (got {v})")
    return v


class RuntimeConfig(_Section):
    """Where things run and are stored; not part of the config hash (same science anywhere)."""

    work_dir: Path = Field(Path(".arcadelab"), description="datasets, MLflow store, checkpoints")
    ray_address: str | None = Field(
        None, description="join this Ray cluster (host:port or 'auto'); None: RAY_ADDRESS or local"
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs for a local Ray; None: all")
    mlflow_tracking_uri: str | None = Field(
        None, description="None: MLFLOW_TRACKING_URI, else SQLite under work_dir"
    )
    connect_timeout_s: float = Field(10.0, gt=0, description="give up joining a cluster after")
    resume: bool = Field(False, description="RL: continue from the last checkpoint in work_dir")
    reuse_stages: bool = Field(
        True, description="reuse a finished stage with the same config and code (Prefect cache)"
    )
    stage_retries: int = Field(2, ge=0, description="retries of a stage after a transient failure")
    retry_delay_s: float = Field(
        10.0, ge=0, description="first retry delay; doubles on each further retry"
    )
    pins: dict[str, str] = Field(
        {}, description="set by the flow run: '<model>/<alias>' -> the registry version its "
        "stages use for that alias (what an upstream stage registered in this run, else what "
        "the alias named when the first stage loading it started)")


class DataConfig(_Section):
    """Data prep: random-policy ALE rollouts collected by parallel Ray tasks."""

    policy: str = Field(
        "random", min_length=1, pattern=r"^\S+$",
        description="behaviour policy: random, or an arcadelab-policy alias or version")
    num_tasks: int = Field(4, ge=1, description="parallel Ray collection tasks, one seed each")
    steps_per_task: int = Field(5_000, ge=1, description="env steps each task collects")
    max_episode_steps: int | None = Field(
        None, ge=1, description="cut episodes after this many steps; None: play to game over"
    )
    frameskip: int = Field(4, ge=1, description="ALE frames per step (v5 default 4)")
    repeat_action_probability: float = Field(
        0.25, ge=0.0, le=1.0, description="sticky actions (v5 default 0.25)"
    )
    rows_per_shard: int = Field(2_000, ge=1, description="rows per Parquet shard")
    split: tuple[float, float, float] = Field(
        (0.7, 0.1, 0.2), description="train/val/test fractions of episodes (AtariARI: 70/10/20)"
    )
    min_label_entropy_bits: float = Field(
        0.6, ge=0.0, description="labels below this entropy are reported as low-entropy"
    )
    sample_grid: int = Field(16, ge=1, le=64, description="frames in the logged sample grid")
    reuse: bool = Field(
        True, description="reuse an intact dataset with the same game, seed and data config"
    )

    @field_validator("split")
    @classmethod
    def _split_sums_to_one(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(v) < 0 or abs(sum(v) - 1.0) > 1e-6 or v[0] <= 0:
            raise ValueError(f"fractions must be >= 0, train > 0, and sum to 1 (got {v})")
        return v


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
    finetune_lr_scale: float = Field(0.1, gt=0, le=1, description="encoder lr = lr * this")
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


class TuneConfig(_Section):
    """`arcadelab tune`: a Ray Tune grid over the fields of one section (`target`: RL
    hyperparameters, or the active-learning loop's strategies and batch sizes), every trial a
    nested MLflow run; with a scheduler (`asha`, `pbt`; RL only) trials are stopped early or
    evolved as they train."""

    target: Literal["rl", "active"] = Field("rl", description="section whose fields are swept")
    params: dict[str, tuple[Any, ...]] | None = Field(
        None, description="field of `target` -> values to try (grid); None: TUNE_GRIDS[target]")
    num_samples: int = Field(1, ge=1, description="repeats of the whole grid")
    iterations: int | None = Field(None, ge=1, description="per RL trial (None: rl.iterations)")
    metric: str | None = Field(None, description="what picks the best trial (None: "
                               "rl/episode_return_mean, or al/label_savings_vs_random)")
    mode: Literal["max", "min"] = Field("max", description="maximise or minimise the metric")
    max_concurrent_trials: int = Field(
        1, ge=1, description="trials at once (pbt: as many as the Ray cluster fits; PBT "
        "pauses the others at a checkpoint and takes turns)")
    scheduler: Literal["none", "asha", "pbt"] = Field(
        "none", description="none: every trial runs to the end; asha: stop weak trials early; "
        "pbt: weak trials clone strong ones and mutate their `pbt_fields` (target=rl only)")
    # Laptop defaults against rl.iterations=50: rungs at 10, 20, 40 iterations.
    grace_period: int = Field(10, ge=1, description="asha: iterations before a trial may stop")
    reduction_factor: float = Field(
        2.0, gt=1, description="asha: keep the best 1/reduction_factor at each rung")
    perturbation_interval: int = Field(
        10, ge=1, description="pbt: iterations between exploit/explore steps (each saves a "
        "checkpoint of every trial)")

    @property
    def objective(self) -> str:
        return self.metric or TUNE_METRICS[self.target]

    @property
    def grid(self) -> dict[str, tuple[Any, ...]]:
        return dict(TUNE_GRIDS[self.target] if self.params is None else self.params)

    @property
    def trials(self) -> int:
        """Trials the sweep starts: the grid's points times `num_samples`."""
        return functools.reduce(lambda n, v: n * len(v), self.grid.values(), self.num_samples)

    @property
    def pbt_fields(self) -> tuple[str, ...]:
        """RL fields PBT may change in a running trial: they steer only the loss and the
        optimiser, so a trial restored from another's checkpoint can take them on. Other swept
        fields (arch, batch sizes, env runners) come from the trial it clones, unmutated."""
        return ("lr", "gamma", "gae_lambda", "clip_param", "vf_loss_coeff", "entropy_coeff",
                "grad_clip", "num_epochs", "finetune_lr_scale")

    @property
    def mutable(self) -> dict[str, tuple[Any, ...]]:
        """The swept fields PBT mutates: `pbt_fields` with at least two distinct values."""
        return {k: v for k, v in self.grid.items()
                if k in self.pbt_fields and len(set(v)) >= 2}

    def budget_problem(self, iterations: int) -> str | None:
        """Why the scheduler cannot act within trials of `iterations` iterations, if so (the
        sweep checks it again once `iterations` falls back to rl.iterations)."""
        if self.scheduler == "asha" and self.grace_period > iterations:
            return (f"grace_period: {self.grace_period} exceeds the {iterations} iterations "
                    "of a trial, so ASHA could never stop one")
        if self.scheduler == "pbt" and self.perturbation_interval >= iterations:
            return (f"perturbation_interval: {self.perturbation_interval} is not below the "
                    f"{iterations} iterations of a trial, so PBT would never perturb one")
        return None

    @model_validator(mode="after")
    def _target_fields(self) -> TuneConfig:
        section = {"rl": RLConfig, "active": ActiveConfig}[self.target]
        fields = [k for k in section.model_fields if k not in TUNE_EXCLUDED[self.target]]
        unknown = sorted(k for k in self.grid if k not in fields)
        if unknown:
            close = {k: difflib.get_close_matches(k, fields, n=1) for k in unknown}
            hints = ", ".join(f"{k}" + (f" (did you mean {c[0]!r}?)" if c else "")
                              for k, c in close.items())
            label = {"rl": "RL", "active": "active-learning"}[self.target]
            raise ValueError(f"params: not {label} fields: {hints}")
        if any(len(values) == 0 for values in self.grid.values()):
            raise ValueError("params: every field needs at least one value")
        return self

    @model_validator(mode="after")
    def _scheduler_fits(self) -> TuneConfig:
        if self.scheduler == "none":
            return self
        if self.target == "active":
            raise ValueError(
                f"scheduler: {self.scheduler} needs the metric every iteration, but an "
                "active-learning trial reports once, at the end (its label savings against "
                "random are known only when every loop has spent its budget); use "
                "scheduler=none")
        if self.scheduler == "pbt":
            if self.trials < 2:
                raise ValueError(
                    f"scheduler: pbt needs a population of at least 2 trials (num_samples x "
                    f"grid = {self.trials}); add values to tune.params or raise "
                    "tune.num_samples")
            if not self.mutable:
                raise ValueError(
                    "scheduler: pbt needs a swept field it can mutate in a running trial "
                    f"({', '.join(self.pbt_fields)}) with at least two values; the grid "
                    f"has {sorted(self.grid)}")
        problem = self.budget_problem(self.iterations) if self.iterations else None
        if problem:
            raise ValueError(problem)
        return self


class PretrainConfig(_Section):
    """Self-supervised encoder pretraining on Ray Train (DDP), fed by Ray Data."""

    methods: tuple[str, ...] = Field(SSL_METHODS, description=f"subset of {SSL_METHODS}")
    supervised_baseline: bool = Field(True, description="also train the supervised upper bound")
    views: tuple[str, ...] = Field(
        ENCODER_VIEWS, description="stack84: the policy's 4x84x84; full: AtariARI's 210x160"
    )
    epochs: int = Field(
        40, ge=1, description="most passes over the train split (early stopping: patience)")
    batch_size: int = Field(128, ge=2, description="per-worker batch (>= 2: in-batch negatives)")
    lr: float = Field(3e-4, gt=0, description="Adam learning rate")
    feature_dim: int = Field(256, ge=1, description="encoder output size")
    arch: Literal["nature_cnn", "small_cnn"] = Field(
        "nature_cnn", description="encoder architecture (AtariARI: nature_cnn; the laptop RL "
        "policy: small_cnn, so a transfer experiment pretrains that)")
    num_workers: int = Field(1, ge=1, description="Ray Train workers (DDP)")
    use_gpu: bool = Field(False, description="one GPU per worker")
    atc_k: int = Field(
        3, ge=1, description="ATC and ST-DIM: the positive is t+k in the same episode")
    patience: int = Field(
        3, ge=1, description="epochs without a lower validation loss before training stops "
        "(the encoder kept is the one with the lowest validation loss)")
    atc_momentum: float = Field(0.99, ge=0, lt=1, description="ATC target-encoder EMA")
    atc_shift: int = Field(
        0, ge=0, description="ATC: random-shift padding in pixels (the paper: 4; on Pong a "
        "shift moves the features more than the ball and paddles do, and the loss stayed at "
        "chance: docs/pretraining.md)")
    max_failures: int = Field(2, ge=0, description="worker failures survived (from checkpoint)")
    register_models: bool = Field(True, description="register encoders as arcadelab-encoder")

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not set(v) <= set(SSL_METHODS):
            raise ValueError(f"methods must be a subset of {SSL_METHODS} (got {v})")
        return v

    @field_validator("views")
    @classmethod
    def _known_views(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or not set(v) <= set(ENCODER_VIEWS):
            raise ValueError(f"views must be a non-empty subset of {ENCODER_VIEWS} (got {v})")
        return v


class ProbeConfig(_Section):
    """AtariARI-style linear probes (one 256-way linear classifier per RAM variable)."""

    epochs: int = Field(100, ge=1, description="max epochs per probe (early stopping on val)")
    lr: float = Field(3e-3, gt=0, description="Adam learning rate")
    batch_size: int = Field(256, ge=1, description="probe minibatch")
    patience: int = Field(10, ge=1, description="epochs without val F1 gain before stopping")
    few_shot_sizes: tuple[int | None, ...] = Field(
        (10, 50, 100, 500, None), description="labelled examples per few-shot point (null: all)"
    )


MM_PARTS = ("fusion", "autoencoder", "alignment", "translation", "retrieval", "colearning")
FUSIONS = ("early", "late", "sum", "product", "tensor", "lowrank")
MTL_SCHEMES = ("single", "hard", "soft")


def _subset(v: tuple[str, ...], known: tuple[str, ...], what: str) -> tuple[str, ...]:
    if not v or not set(v) <= set(known):
        raise ValueError(f"{what} must be a non-empty subset of {known} (got {v})")
    return v


class MultimodalConfig(_Section):
    """Multimodal stage over screen, sound and RAM: fusion, bimodal autoencoder, alignment,
    translation, retrieval, co-learning (docs/multimodal.md)."""

    encoder: str = Field("champion", description="frozen frame encoder: registry alias, or "
                         "'random' (also used when the alias is not registered)")
    parts: tuple[str, ...] = Field(MM_PARTS, description=f"subset of {MM_PARTS}")
    horizon: int = Field(8, ge=1, description="target: a hit, bounce or point in the next k steps")
    fusions: tuple[str, ...] = Field(FUSIONS, description=f"subset of {FUSIONS}")
    hidden: int = Field(128, ge=2, description="width of encoders and heads")
    tensor_dim: int = Field(16, ge=1, description="per-modality size fed to tensor fusion")
    rank: int = Field(4, ge=1, description="rank of low-rank tensor fusion")
    epochs: int = Field(10, ge=1, description="epochs of the feature-level models")
    decoder_epochs: int = Field(5, ge=1, description="epochs of the pixel models (AE, RAM->frame)")
    batch_size: int = Field(256, ge=2, description="minibatch (>= 2: contrastive negatives)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    align_window: int = Field(2, ge=1, description="alignment candidates: frames t-w..t+w")
    foreground_weight: float = Field(20.0, ge=1, description="RAM->frame: weight of moving pixels")
    distill_temperature: float = Field(4.0, gt=0, description="co-learning softmax temperature")
    distill_alpha: float = Field(0.5, ge=0, le=1, description="co-learning weight of the teacher")

    @field_validator("parts")
    @classmethod
    def _known_parts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _subset(v, MM_PARTS, "parts")

    @field_validator("fusions")
    @classmethod
    def _known_fusions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _subset(v, FUSIONS, "fusions")


class MultitaskConfig(_Section):
    """Multi-task learning over the RAM variables: single-task, hard and soft sharing."""

    schemes: tuple[str, ...] = Field(MTL_SCHEMES, description=f"subset of {MTL_SCHEMES}")
    trunk: Literal["features", "cnn"] = Field(
        "features", description="the shared/per-task encoder: an MLP over the frozen frame "
        "encoder's features, or a NatureCNN trained end to end on 4x84x84 stacks")
    encoder: str = Field("champion", description="frozen frame encoder of the features trunk")
    epochs: int = Field(20, ge=1, description="passes over the train split")
    batch_size: int = Field(128, ge=1, description="minibatch")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    hidden: int = Field(256, ge=1, description="features trunk: hidden width")
    feature_dim: int = Field(128, ge=1, description="trunk output size (the heads' input)")
    soft_penalty: float = Field(1e-2, ge=0, description="soft sharing: weight of the L2 coupling")
    max_train_rows: int | None = Field(None, ge=1, description="cap the train split (None: all)")

    @field_validator("schemes")
    @classmethod
    def _known_schemes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _subset(v, MTL_SCHEMES, "schemes")


class GanConfig(_Section):
    """DCGAN on 84x84 frames; Frechet distance in the frozen encoder's feature space."""

    encoder: str = Field("champion", description="encoder of the Frechet distance (or 'random')")
    epochs: int = Field(5, ge=1, description="passes over the train frames")
    batch_size: int = Field(64, ge=2, description="minibatch (BatchNorm needs >= 2)")
    z_dim: int = Field(64, ge=1, description="latent size")
    width: int = Field(16, ge=1, description="base channel width of G and D")
    lr: float = Field(2e-4, gt=0, description="Adam learning rate (DCGAN: 2e-4)")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1 (DCGAN: 0.5)")
    fd_samples: int = Field(1000, ge=2, description="frames per side of the Frechet distance")
    max_train_rows: int | None = Field(None, ge=1, description="cap the train frames (None: all)")


class FewshotConfig(_Section):
    """Prototypical few-shot and CLIP-style zero-shot classification of game states."""

    encoder: str = Field("champion", description="frozen frame encoder (or 'random')")
    shots: tuple[int, ...] = Field((1, 5, 10, 20, 50), description="k examples per class")
    episodes: int = Field(100, ge=1, description="test episodes per k")
    queries: int = Field(20, ge=1, description="query examples per class per episode")
    meta_episodes: int = Field(500, ge=0, description="ProtoNet meta-training episodes (0: off)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    hidden: int = Field(128, ge=2, description="width of the ProtoNet and frame-RAM model")
    batch_size: int = Field(256, ge=2, description="frame-RAM model minibatch")
    zero_shot: bool = Field(True, description="also classify zero-shot against RAM prompts")
    clip_epochs: int = Field(20, ge=1, description="epochs of the frame-RAM model for zero-shot")
    prompts: int = Field(64, ge=1, description="RAM prompts per class")

    @field_validator("shots")
    @classmethod
    def _positive_shots(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or min(v) < 1:
            raise ValueError(f"shots must be a non-empty list of k >= 1 (got {v})")
        return tuple(sorted(set(v)))


AL_STRATEGIES = ("random", "least_confidence", "margin", "entropy", "bald", "coreset")
CURRICULUM_ORDERS = ("curriculum", "anti", "random")
PACINGS = ("fixed_steps", "linear", "root")


class ActiveConfig(_Section):
    """Pool- and stream-based active learning of RAM variables from frames."""

    encoder: str = Field("champion", description="frozen frame encoder: registry alias, or "
                         "'random' (also used when the alias is not registered)")
    view: Literal["stack84", "full"] = Field("stack84", description="view of a random encoder")
    labels: tuple[str, ...] | None = Field(
        None, description="RAM variables to predict (one head each); None: the game's (Pong: "
        "ball_x, ball_y, player_y; else up to 3 usable labels, a position pair first)")
    target_labels: tuple[str, ...] | None = Field(
        None, description="labels whose mean F1 defines label savings; None: the position "
        "pair among labels (Pong: ball_x, ball_y), else all labels")
    strategies: tuple[str, ...] = Field(AL_STRATEGIES, description=f"subset of {AL_STRATEGIES}")
    oracle: Literal["ram", "human"] = Field(
        "ram", description="ram: labels read from RAM; human: `arcadelab label export/import`")
    seed_size: int = Field(100, ge=1, description="random labelled frames to start from")
    batch_size: int = Field(400, ge=1, description="frames queried per round")
    budget: int = Field(8_000, ge=1, description="stop when this many frames are labelled")
    target_fraction: float = Field(0.95, gt=0, le=1,
                                   description="savings: labels to reach this x full-data F1")
    score_shards: int = Field(4, ge=1, description="Ray tasks that score the pool per round")
    mc_samples: int = Field(10, ge=1, description="MC-dropout passes for BALD")
    hidden: int = Field(512, ge=1, description="width of the classifier's hidden layer")
    dropout: float = Field(0.25, ge=0, lt=1, description="dropout (also BALD's posterior)")
    epochs: int = Field(30, ge=1, description="passes over the labelled set per round")
    min_steps: int = Field(300, ge=1, description="at least this many SGD steps per round")
    train_batch_size: int = Field(256, ge=1, description="classifier minibatch")
    lr: float = Field(3e-3, gt=0, description="Adam learning rate")
    weight_decay: float = Field(1e-4, ge=0, description="Adam weight decay")
    stream: bool = Field(True, description="also run stream-based AL on a live ALE rollout")
    stream_frames: int = Field(5_000, ge=1, description="frames the live stream shows")
    stream_budget: int = Field(500, ge=1, description="labels the stream may query")
    stream_strategy: Literal["least_confidence", "margin", "entropy"] = Field(
        "margin", description="uncertainty the stream thresholds")
    stream_calibration: int = Field(200, ge=1, description="frames that set the threshold")
    stream_retrain_every: int = Field(100, ge=1, description="retrain after this many labels")
    stream_threshold_step: float = Field(
        0.05, ge=0, lt=1, description="threshold learning rate (tracks the budget's rate)")

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"strategies must not repeat (got {v})")
        return _subset(v, AL_STRATEGIES, "strategies")

    @model_validator(mode="after")
    def _consistent(self) -> ActiveConfig:
        # None is derived per game at stage start, from the dataset's manifest.
        labels, targets = self.labels, self.target_labels
        if labels is not None and (not labels or len(set(labels)) != len(labels)):
            raise ValueError(f"labels: need distinct label names (got {labels})")
        if targets is not None and (not targets
                                    or (labels is not None and not set(targets) <= set(labels))):
            raise ValueError(f"target_labels: must be a non-empty subset of labels "
                             f"{labels} (got {targets})")
        if self.seed_size > self.budget:
            raise ValueError(f"seed_size: {self.seed_size} exceeds budget ({self.budget})")
        return self

    def game_problem(self, game: str) -> str | None:
        """Why these settings cannot run on `game`, if so (the labels they name are per game)."""
        return (labels_problem(game, "labels", self.labels)
                or labels_problem(game, "target_labels", self.target_labels))


class DataCurriculumConfig(_Section):
    """Curriculum learning over examples (Bengio et al. 2009) for the frame -> RAM classifier."""

    encoder: str = Field("champion", description="frozen frame encoder (or 'random')")
    view: Literal["stack84", "full"] = Field("stack84", description="view of a random encoder")
    labels: tuple[str, ...] | None = Field(
        None, description="RAM variables to predict; None: the game's (Pong: ball_x, ball_y, "
        "player_y; else up to 3 usable labels, a position pair first)")
    difficulty: Literal["reference_loss", "ball_speed"] = Field(
        "reference_loss", description="reference_loss: cross-fitted loss of a reference "
        "model; ball_speed: RAM-derived ball movement per step (games with ball_x, ball_y)")
    orders: tuple[str, ...] = Field(CURRICULUM_ORDERS,
                                    description=f"subset of {CURRICULUM_ORDERS}")
    pacings: tuple[str, ...] = Field(PACINGS, description=f"subset of {PACINGS}")
    baseline: bool = Field(True, description="also train without pacing (all data from step 0)")
    steps: int = Field(1_500, ge=1, description="SGD steps per run: the same budget for all")
    batch_size: int = Field(128, ge=1, description="minibatch")
    start_fraction: float = Field(0.2, gt=0, le=1, description="share of data at step 0")
    ramp_fraction: float = Field(0.8, gt=0, le=1,
                                 description="share of the budget after which all data is in")
    levels: int = Field(5, ge=2, description="fixed_steps: number of data increments")
    eval_every: int = Field(100, ge=1, description="test F1 every this many steps")
    reference_epochs: int = Field(10, ge=1, description="epochs of the reference models")
    hidden: int = Field(512, ge=1, description="width of the classifier's hidden layer")
    dropout: float = Field(0.25, ge=0, lt=1, description="classifier dropout")
    lr: float = Field(3e-3, gt=0, description="Adam learning rate")
    weight_decay: float = Field(1e-4, ge=0, description="Adam weight decay")

    @field_validator("orders")
    @classmethod
    def _known_orders(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _subset(v, CURRICULUM_ORDERS, "orders")

    @field_validator("pacings")
    @classmethod
    def _known_pacings(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _subset(v, PACINGS, "pacings")

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return v if v is None else _distinct(v, "need distinct label names")

    def game_problem(self, game: str) -> str | None:
        """Why these settings cannot run on `game`, if so (the labels they name are per game)."""
        from pipelines.data.labels import labels_for

        known = labels_for(rom_name(game))
        if self.difficulty == "ball_speed" and not {"ball_x", "ball_y"} <= set(known):
            return (f"difficulty: ball_speed needs the ball_x and ball_y RAM labels, which "
                    f"{game} does not have (its labels: {', '.join(known) or 'none'}); use "
                    "difficulty=reference_loss")
        return labels_problem(game, "labels", self.labels)


class PipelineConfig(_Section):
    """Which stages the pipeline flow runs, in order, and how many at once."""

    stages: tuple[str, ...] = Field(STAGES, description=f"subset of {STAGES}")
    max_concurrent_stages: int | None = Field(
        1, ge=1, description="stages run at once, each as soon as the stages it takes results "
        "from are done and the Ray cluster has the CPUs it declares (flows/stage_registry.py); "
        "1: one after another in the listed order; null: as many as the cluster's CPUs allow")

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in v if s not in STAGES]
        if unknown or not v:
            raise ValueError(f"stages must be a non-empty subset of {STAGES} (got {v})")
        return v


class DeploymentConfig(_Section):
    """One scheduled deployment that `arcadelab serve` registers (cron or interval)."""

    name: str = Field(..., min_length=1, description="deployment name, unique per flow")
    flow: str = Field("pipeline", description="'pipeline' or one stage's flow, e.g. 'data'")
    cron: str | None = Field(None, description="cron expression (5 fields), e.g. '0 3 * * *'")
    interval_s: float | None = Field(None, gt=0, description="or: run every N seconds")
    timezone: str = Field("UTC", description="IANA time zone of the cron schedule")
    paused: bool = Field(False, description="register the schedule paused")

    @model_validator(mode="after")
    def _one_schedule(self) -> DeploymentConfig:
        import zoneinfo

        if not self.flow.isidentifier():  # `arcadelab serve` checks it names a flow
            raise ValueError(f"flow: expected a flow name, got {self.flow!r}")
        if (self.cron is None) == (self.interval_s is None):
            raise ValueError("cron: give exactly one of cron or interval_s")
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError(f"cron: expected 5 fields (minute hour day month weekday), "
                             f"got {self.cron!r}")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        return self


class ScheduleConfig(_Section):
    """When flows run by themselves: the deployments `arcadelab serve` registers and serves."""

    deployments: tuple[DeploymentConfig, ...] = Field(
        (DeploymentConfig(name="pipeline-nightly", flow="pipeline", cron="0 3 * * *"),),
        description="scheduled deployments (name, flow, cron or interval_s)",
    )
    limit: int | None = Field(1, ge=1, description="flow runs at once in the serve process")

    @field_validator("deployments")
    @classmethod
    def _unique_names(cls, v: tuple[DeploymentConfig, ...]) -> tuple[DeploymentConfig, ...]:
        names = [(d.flow, d.name) for d in v]
        if len(set(names)) != len(names):
            raise ValueError(f"deployment names must be unique per flow (got {names})")
        return v


class ArcadeConfig(_Section):
    """The whole resolved config of a flow run."""

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        # A config given as an object ({preset: smoke, ...}, e.g. a deployment's parameters)
        # means that preset's sizes under its own values, as when loaded by name; a resolved
        # config (every field explicit) is unchanged by it.
        if isinstance(data, Mapping) and "preset" in data:
            if data["preset"] not in PRESETS:
                raise ValueError(f"preset: unknown preset {data['preset']!r} "
                                 f"(choose from {', '.join(PRESETS)})")
            data = deep_merge(PRESETS[data["preset"]], data)
        return _game_defaults(data)

    preset: str = Field("laptop", description="the preset this config started from")
    game: str = Field("ALE/Pong-v5", description="ALE env id shared by every stage")
    seed: int = Field(0, ge=0, description="root seed; stages derive theirs from it")
    runtime: RuntimeConfig = RuntimeConfig()
    data: DataConfig = DataConfig()
    pretrain: PretrainConfig = PretrainConfig()
    probe: ProbeConfig = ProbeConfig()
    rl: RLConfig = RLConfig()
    transfer: TransferConfig = TransferConfig()
    tune: TuneConfig = TuneConfig()
    policy_transfer: PolicyTransferConfig = PolicyTransferConfig()
    rl_curriculum: CurriculumConfig = Field(
        CurriculumConfig(**KNOWN_RL_CURRICULA["pong"]),
        description="the curriculum the rl_curriculum comparison trains with; its last task is "
        "the target both arms are evaluated on. No tasks named: the game's (Pong: difficulty "
        "0 -> 2, which halves the player's paddle, 16 -> 8 pixel rows, measured; else first -> "
        "last difficulty, else the first two modes, else none: the stage is skipped)")
    pipeline: PipelineConfig = PipelineConfig()
    multimodal: MultimodalConfig = MultimodalConfig()
    multitask: MultitaskConfig = MultitaskConfig()
    gan: GanConfig = GanConfig()
    fewshot: FewshotConfig = FewshotConfig()
    active: ActiveConfig = ActiveConfig()
    data_curriculum: DataCurriculumConfig = DataCurriculumConfig()
    schedule: ScheduleConfig = ScheduleConfig()

    @field_validator("game")
    @classmethod
    def _known_game(cls, v: str) -> str:
        return check_game_id(v)

    @field_validator("policy_transfer")
    @classmethod
    def _variants_exist(cls, v: PolicyTransferConfig, info: ValidationInfo
                        ) -> PolicyTransferConfig:
        # ALE raises a bare error for a mode the ROM lacks, minutes into a flow: check here.
        game = info.data.get("game")
        if game is None:  # the game itself was invalid and is reported on its own
            return v
        problem = variants_problem(game, v.modes or (), v.difficulties or ())
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("rl_curriculum")
    @classmethod
    def _tasks_exist(cls, v: CurriculumConfig, info: ValidationInfo) -> CurriculumConfig:
        game = info.data.get("game")
        problem = None if game is None else tasks_problem(game, v.tasks)
        if problem:
            raise ValueError(f"tasks: {problem}")
        return v

    @field_validator("rl")
    @classmethod
    def _rl_fits_game(cls, v: RLConfig, info: ValidationInfo) -> RLConfig:
        game = info.data.get("game")
        problem = None if game is None else v.game_problem(game)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("data_curriculum", "active")
    @classmethod
    def _labels_fit_game(cls, v: DataCurriculumConfig | ActiveConfig, info: ValidationInfo
                         ) -> DataCurriculumConfig | ActiveConfig:
        # ball_speed and named labels are per game: refused here, not minutes into a flow.
        game = info.data.get("game")
        problem = None if game is None else v.game_problem(game)
        if problem:
            raise ValueError(problem)
        return v

    def science(self) -> dict[str, Any]:
        """Everything that changes results (all but runtime, schedule and the preset label)."""
        return self.model_dump(mode="json", exclude={"runtime", "preset", "schedule"})

    def hash(self, section: str | None = None) -> str:
        """Stable 12-hex digest of the science (or of one stage section plus game and seed)."""
        sci = self.science()
        if section is not None:
            sci = {"game": sci["game"], "seed": sci["seed"], section: sci[section]}
        return config_digest(sci)


def _game_defaults(data: Any) -> Any:
    """A config object with the settings it leaves to its game filled in: rl_curriculum's
    tasks (the game's variants; for Pong also its threshold) when it names none, under the
    rl_curriculum fields it does name. A resolved config names them all: unchanged."""
    if not isinstance(data, Mapping):
        return data
    cur = data.get("rl_curriculum", {})
    if not isinstance(cur, Mapping) or "tasks" in cur:
        return data
    game = data.get("game", ArcadeConfig.model_fields["game"].default)
    try:
        check_game_id(game)
    except (TypeError, ValueError):
        return data  # the game field reports its own error
    return {**data, "rl_curriculum": {**default_rl_curriculum(game), **cur}}


# Presets are partial overrides of the defaults above; `laptop` is the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {
        # Episodes of 100 steps: Ms. Pac-Man's start-up tune holds everything still for ~100
        # steps, so 60-step ones had no label that varies. 2 x 300 steps make 6 episodes
        # (Pong's random play never ends one sooner): 4 train, 1 val, 1 test.
        "data": {"num_tasks": 2, "steps_per_task": 300, "max_episode_steps": 100,
                 "rows_per_shard": 200},
        "pretrain": {"epochs": 1, "batch_size": 32, "feature_dim": 64},
        "tune": {"iterations": 1},
        "transfer": {"iterations": 1},
        "probe": {"epochs": 5, "patience": 2, "few_shot_sizes": (10, 50, None)},
        "multimodal": {"epochs": 2, "decoder_epochs": 1, "hidden": 16, "tensor_dim": 4,
                       "batch_size": 64},
        "multitask": {"epochs": 2, "batch_size": 32, "hidden": 32, "feature_dim": 16},
        "gan": {"epochs": 1, "batch_size": 32, "width": 4, "z_dim": 16, "fd_samples": 64},
        "active": {"seed_size": 20, "batch_size": 20, "budget": 60, "score_shards": 2,
                   "mc_samples": 3, "hidden": 32, "epochs": 5, "min_steps": 20,
                   "stream_frames": 120, "stream_budget": 20, "stream_calibration": 20,
                   "stream_retrain_every": 10},
        "data_curriculum": {"steps": 40, "eval_every": 20, "batch_size": 32, "hidden": 32,
                            "reference_epochs": 2, "pacings": ("linear",)},
        "fewshot": {"shots": (1, 5), "episodes": 10, "queries": 5, "meta_episodes": 20,
                    "clip_epochs": 2, "prompts": 8},
        "rl": {"iterations": 2, "num_env_runners": 1, "num_envs_per_env_runner": 2,
               "train_batch_size": 256, "minibatch_size": 128, "num_epochs": 1,
               "max_episode_steps": 100, "checkpoint_every": 1, "evaluation_every": 2,
               "evaluation_episodes": 1, "video_max_steps": 50},
        # Every variant the game has (8 for Pong), each cut short: tiny, and valid for any game.
        "policy_transfer": {"episodes": 1, "max_episode_steps": 100},
    },
    "laptop": {},
    "cluster": {
        "data": {"num_tasks": 64, "steps_per_task": 25_000, "rows_per_shard": 5_000},
        "pretrain": {"epochs": 100, "batch_size": 256, "num_workers": 4, "use_gpu": True},
        "multimodal": {"epochs": 40, "decoder_epochs": 30},
        "multitask": {"trunk": "cnn", "epochs": 10, "feature_dim": 256},
        "gan": {"epochs": 25, "width": 32},
        "active": {"budget": 20_000, "batch_size": 500, "score_shards": 32,
                   "stream_frames": 50_000, "stream_budget": 5_000},
        "data_curriculum": {"steps": 20_000, "batch_size": 256, "eval_every": 500},
        "rl": {"iterations": 500, "num_env_runners": 32, "num_envs_per_env_runner": 8,
               "train_batch_size": 16_384, "minibatch_size": 1_024, "num_epochs": 4,
               "num_learners": 2, "num_gpus_per_learner": 1.0, "arch": "nature_cnn",
               "feature_dim": 512, "env_threads": 1},
    },
}


def config_digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge mappings; values in `override` win."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_set(expr: str) -> dict[str, Any]:
    """`a.b=3` -> {"a": {"b": 3}}; the value is parsed as YAML (numbers, bools, lists)."""
    key, sep, raw = expr.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"--set expects key.path=value, got {expr!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: value {raw!r} is not valid YAML ({exc})") from None
    node: Any = value
    for part in reversed(key.strip().split(".")):
        node = {part: node}
    return node


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def load_config(
    preset: str = "laptop",
    files: Iterable[Path] = (),
    sets: Iterable[str] = (),
    runtime: Mapping[str, Any] | None = None,
) -> ArcadeConfig:
    """Resolve preset -> files -> --set overrides -> runtime flags into a validated config."""
    if preset not in PRESETS:
        raise ConfigError(f"preset: unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    merged: dict[str, Any] = deep_merge({}, PRESETS[preset])
    for path in files:
        merged = deep_merge(merged, load_yaml(path))
    for expr in sets:
        merged = deep_merge(merged, parse_set(expr))
    if runtime:
        flags = {k: v for k, v in runtime.items() if v is not None}
        merged = deep_merge(merged, {"runtime": flags})
    merged["preset"] = preset
    return validate(merged)


def with_section(cfg: ArcadeConfig, section: str, **fields: object) -> ArcadeConfig:
    """A copy of `cfg` with some fields of one section replaced, validated like any other."""
    data = cfg.model_dump(mode="json")
    data[section] = {**data[section], **fields}
    return validate(data)


def validate(data: Mapping[str, Any]) -> ArcadeConfig:
    try:
        return ArcadeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None


def format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"{loc}: unknown key{_suggest(err['loc'])}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            head, sep, rest = msg.partition(": ")
            if sep and head.isidentifier():  # a section-level check naming its field
                lines.append(f"{loc + '.' if loc else ''}{head}: {rest}")
            else:
                lines.append(f"{loc}: {msg} (got {err.get('input')!r})")
    return "invalid config:\n  " + "\n  ".join(lines)


def _suggest(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = ArcadeConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type):
            return ""
        model = field.annotation
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"


def to_yaml(cfg: ArcadeConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: the form MLflow params take."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
