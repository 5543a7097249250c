"""The stage registry: every stage declared once, and everything else derived from it.

A stage is one `Stage` entry: its name, the Prefect task that runs it, the stages whose results
it takes (`upstream`), what else of the config it reads, the registered models it loads and the
one it registers, its result type and a one-line description. From this table come:

- `arcadelab run <stage>`, its choices and help (flows/cli.py);
- each stage's own flow (flows/pipeline.py; experiment `arcadelab/<stage>`), which runs the
  data stage first when the stage reads the dataset (an intact dataset is reused);
- the pipeline's stages and their dependency graph (the default `pipeline.stages` lists each
  stage after its upstream stages; tests/flows/test_stage_registry.py checks it);
- the stage cache key's inputs (flows/caching.py): sections read, models loaded.

Adding a stage: write its logic in `pipelines/`, its task in a flows task module, one entry
here, its config section in pipelines' config (docs/adding-a-stage.md walks through it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.core.config import ArcadeConfig
from pipelines.core.model_refs import ENCODER_MODEL, POLICY_MODEL, RANDOM

ModelRef = tuple[str, str]  # (registered model, alias or version)


def _none(cfg: ArcadeConfig) -> tuple[str, ...]:
    return ()


def _no_models(cfg: ArcadeConfig) -> list[ModelRef]:
    return []


def _produces_nothing(cfg: ArcadeConfig) -> str | None:
    return None


@dataclass(frozen=True)
class Stage:
    """One stage of arcadelab, as the CLI, the flows and the stage cache see it."""

    name: str
    # "module:attribute" of its Prefect task, (cfg, parent_run_id, flow, flow_run_id,
    # upstream) -> result; imported when the stage runs, so the CLI and `--help` stay fast.
    task: str
    result: str  # "module.Class" of what the task returns (a dataclass with `.describe()`)
    doc: str  # one line: `arcadelab run --help`, the flow's description
    # Stages whose results (a dataset, a registered model version) it takes when they ran
    # before it in the same flow run; run alone, it finds them by config and registry alias.
    upstream: tuple[str, ...] = ()
    # Beyond its own section and those of the stages before it: whole sections ("rl") or
    # single fields ("pretrain.feature_dim") whose change must re-run it.
    reads: Callable[[ArcadeConfig], tuple[str, ...]] = _none
    # Registered models it loads by alias: the version behind each joins its cache key.
    models: Callable[[ArcadeConfig], list[ModelRef]] = _no_models
    # The registered model it adds a version of (and moves aliases of), if any.
    produces: Callable[[ArcadeConfig], str | None] = _produces_nothing
    # Why its result is never reused from the stage cache (None: reused when its key matches).
    always_run: str | None = None
    # Part of `pipeline.stages` (false: its own command only, e.g. `arcadelab tune`).
    in_pipeline: bool = True
    # Its own flow runs the data stage first (it reads the dataset); a callable decides by config.
    needs_data: bool | Callable[[ArcadeConfig], bool] = False
    # Ray CPUs it holds while it runs (actors, a Ray Train worker group): a pipeline running
    # stages concurrently starts it only when that many are free, so two stages never each
    # hold part of what both wait for. Ray tasks it submits queue and need not be counted.
    cpus: Callable[[ArcadeConfig], int] = lambda cfg: 1

    def load_task(self) -> Callable[..., Any]:
        module, attr = self.task.split(":")
        return getattr(importlib.import_module(module), attr)

    def flow_stages(self, cfg: ArcadeConfig) -> tuple[str, ...]:
        """The stages its own flow runs, in order."""
        data = self.needs_data(cfg) if callable(self.needs_data) else self.needs_data
        return ("data", self.name) if data else (self.name,)


def _rl_cpus(cfg: ArcadeConfig) -> int:
    """RLlib's env-runner actors, one CPU each (the learner runs in the driver's process)."""
    return max(1, cfg.rl.num_env_runners)


def _frozen_encoders(*aliases: str) -> list[ModelRef]:
    """Registry inputs of a frozen-encoder stage; 'random' asks the registry for nothing."""
    return [(ENCODER_MODEL, a) for a in dict.fromkeys(aliases) if a != RANDOM]


def _rl_encoder(cfg: ArcadeConfig) -> list[ModelRef]:
    return [] if cfg.rl.transfer == "scratch" else [(ENCODER_MODEL, cfg.rl.encoder_alias)]


def _tune_encoders(cfg: ArcadeConfig) -> list[ModelRef]:
    """The encoders a sweep's trials load: the grid may sweep the alias (and RL's transfer)."""
    grid = cfg.tune.grid
    if cfg.tune.target == "active":
        return _frozen_encoders(*(str(a) for a in grid.get("encoder", (cfg.active.encoder,))))
    if all(t == "scratch" for t in grid.get("transfer", (cfg.rl.transfer,))):
        return []
    aliases = dict.fromkeys(str(a) for a in grid.get("encoder_alias", (cfg.rl.encoder_alias,)))
    return [(ENCODER_MODEL, a) for a in aliases]


# Every reader of the dataset reads the data config that names it
# (pipelines.data.prep.upstream_dataset), and a frozen-encoder stage builds its random-init
# fallback (alias 'random' or not registered) from pretrain.feature_dim (its arch is
# EncoderSpec's default, not pretrain.arch).
_FROZEN_READS = ("data", "pretrain.feature_dim")
# The policy's env preprocessing (pipelines/rl/policy_transfer.py, env_kwargs).
_POLICY_ENV = tuple(f"rl.{f}" for f in (
    "frameskip", "screen_size", "frame_stack", "noop_max", "repeat_action_probability"))
_FROZEN_UPSTREAM = ("data", "pretrain")
_FAMILY_TASK = "flows.families:{}_task"
_EXPERIMENT = "pipelines.rl.experiments.ExperimentResult"


def _frozen_stage(name: str, task: str, result: str, doc: str,
                  reads: Callable[[ArcadeConfig], tuple[str, ...]] = lambda cfg: _FROZEN_READS,
                  **extra: Any) -> Stage:
    """A stage over the dataset and a frozen registered encoder (`<name>.encoder`)."""
    extra.setdefault("models", lambda cfg: _frozen_encoders(getattr(cfg, name).encoder))
    return Stage(name, task, result, doc, upstream=_FROZEN_UPSTREAM, reads=reads,
                 needs_data=True, **extra)


_ENTRIES: tuple[Stage, ...] = (
    Stage("data", "flows.stages:data_task", "pipelines.data.prep.DataResult",
          "Collect an ALE dataset with parallel Ray tasks (frames, sound, RAM, labels).",
          models=lambda cfg: ([] if cfg.data.policy == "random"
                              else [(POLICY_MODEL, cfg.data.policy)])),
    Stage("pretrain", "flows.stages:pretrain_task",
          "pipelines.pretrain.stage.PretrainStageResult",
          "Self-supervised pretraining -> probes -> registry, on the (reused) dataset.",
          upstream=("data",), reads=lambda cfg: ("data", "probe"),
          produces=lambda cfg: ENCODER_MODEL, needs_data=True,
          cpus=lambda cfg: cfg.pretrain.num_workers),  # the Ray Train worker group
    _frozen_stage("multimodal", _FAMILY_TASK.format("multimodal"),
                  "pipelines.multimodal.stage.MultimodalResult", "Fusion, bimodal autoencoder, "
                  "alignment, translation, retrieval, co-learning."),
    _frozen_stage("multitask", _FAMILY_TASK.format("multitask"),
                  "pipelines.multitask.stage.MultitaskResult", "Single-task, hard-sharing and "
                  "soft-sharing models of the RAM variables.",
                  # A CNN trunk trains its own encoder: no registered one, no fallback.
                  reads=lambda cfg: _FROZEN_READS if cfg.multitask.trunk == "features"
                  else ("data",),
                  models=lambda cfg: _frozen_encoders(cfg.multitask.encoder)
                  if cfg.multitask.trunk == "features" else []),
    _frozen_stage("gan", _FAMILY_TASK.format("gan"), "pipelines.generative.gan.GanResult",
                  "DCGAN on game frames, Frechet distance in the frozen encoder's feature "
                  "space."),
    _frozen_stage("fewshot", _FAMILY_TASK.format("fewshot"),
                  "pipelines.fewshot.stage.FewshotResult",
                  "Prototypical few-shot and CLIP-style zero-shot classification of game "
                  "states."),
    _frozen_stage("active", "flows.active:active_task", "pipelines.active.stage.ActiveResult",
                  "Pool-based active learning per strategy, then stream-based, on the "
                  "(reused) dataset.",
                  # pipelines/active/state.py: its own round state resumes it.
                  always_run="active learning reads labels a person may have imported since"),
    _frozen_stage("data_curriculum", "flows.active:data_curriculum_task",
                  "pipelines.curriculum.data_curriculum.CurriculumResult", "Curriculum vs "
                  "anti-curriculum vs random order of training examples, under each pacing."),
    Stage("rl", "flows.stages:rl_task", "pipelines.rl.train.RLResult",
          "Train the Pong policy with RLlib (PPO or REINFORCE, scratch or pretrained encoder).",
          upstream=("pretrain",), models=_rl_encoder,
          produces=lambda cfg: POLICY_MODEL if cfg.rl.register_policy else None, cpus=_rl_cpus),
    Stage("policy_data", "flows.stages:policy_data_task",
          "pipelines.data.policy_data.PolicyDataResult",
          "Frames the registered policy plays, and probes fitted on random-policy frames "
          "scored on them (the distribution-shift test).",
          upstream=("data", "pretrain", "rl"),
          reads=lambda cfg: ("data", "pretrain", "probe", "rl"),
          models=lambda cfg: [
              (POLICY_MODEL, cfg.data.policy if cfg.data.policy != "random" else "current"),
              *((ENCODER_MODEL, m) for m in (*cfg.pretrain.methods, "supervised"))]),
    Stage("policy_transfer", "flows.stages:policy_transfer_task",
          "pipelines.rl.policy_transfer.PolicyTransferResult",
          "The registered policy, greedy, on game variants it never trained on (zero-shot).",
          upstream=("rl",), reads=lambda cfg: _POLICY_ENV,
          models=lambda cfg: [(POLICY_MODEL, cfg.policy_transfer.alias)]),
    # The RL experiments train arms built from the rl section (pipelines/rl/experiments.py);
    # transfer always loads the encoder (its scratch arm copies its shape).
    Stage("transfer", "flows.rl_tasks:transfer_task", _EXPERIMENT,
          "Scratch vs frozen vs fine-tuned registry encoder, same seed and budget.",
          upstream=("pretrain",), reads=lambda cfg: ("rl",),
          models=lambda cfg: [(ENCODER_MODEL, cfg.rl.encoder_alias)], cpus=_rl_cpus),
    Stage("rl_curriculum", "flows.rl_tasks:rl_curriculum_task", _EXPERIMENT,
          "PPO with vs without a curriculum over game variants, on the same budget.",
          upstream=("pretrain",), reads=lambda cfg: ("rl",), models=_rl_encoder,
          cpus=_rl_cpus),
    Stage("algorithms", "flows.rl_tasks:algorithms_task", _EXPERIMENT,
          "PPO vs the course's REINFORCE on one module and env stack, same budget.",
          upstream=("pretrain",), reads=lambda cfg: ("rl", "transfer.return_thresholds"),
          models=_rl_encoder, cpus=_rl_cpus),
    Stage("tune", "flows.rl_tasks:tune_task", "pipelines.tune.sweep.TuneResult",
          "A Ray Tune sweep over `tune.params` of `tune.target`, every trial a nested MLflow "
          "run (`arcadelab tune`).",
          upstream=("data", "pretrain"),
          reads=lambda cfg: ("rl",) if cfg.tune.target == "rl" else ("active", *_FROZEN_READS),
          models=_tune_encoders, in_pipeline=False,
          cpus=lambda cfg: 1 << 16,  # a sweep fills the cluster: it runs alone
          # active-learning trials label frames of the dataset
          needs_data=lambda cfg: cfg.tune.target == "active"),
)

REGISTRY: dict[str, Stage] = {s.name: s for s in _ENTRIES}
PIPELINE_STAGES: tuple[str, ...] = tuple(s.name for s in _ENTRIES if s.in_pipeline)
# pipelines.core.config validates `pipeline.stages` against its own STAGES (config may not import
# flows): both name the same stages in the same order (tests/flows/test_stage_registry.py).


def stage(name: str) -> Stage:
    """The stage called `name`; KeyError naming the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r} (known: {', '.join(REGISTRY)})") from None
