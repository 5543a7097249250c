"""RL stage: PPO or REINFORCE on RLlib (new API stack), from scratch or on a pretrained encoder.

Per iteration `rl/…` metrics (step = env steps); every `evaluation_every` iterations RLlib's
evaluation runner plays greedy episodes (unclipped return, `rl/eval_return`) and a GIF of the
agent goes to MLflow; every `checkpoint_every` iterations a checkpoint is written atomically
and recorded in `<work_dir>/checkpoints/rl-latest.json`, which `--resume` continues from. The
final policy is registered as `arcadelab-policy`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import torch
from ray.rllib.algorithms import Algorithm

from agents import curriculum
from agents.atari_env import policy_actions
from agents.callbacks import health_callbacks, merge
from agents.ppo import build_algo_config, env_config, scratch_spec
from models.checkpoint import EncoderCheckpointError
from models.encoder import EncoderSpec
from pipelines.core import registry
from pipelines.core.charts import line_chart
from pipelines.core.config import ArcadeConfig, config_digest
from pipelines.core.model_refs import policy_aliases
from pipelines.core.progress import progress
from pipelines.core.tracking import log_metrics
from pipelines.rl.policy_video import record_gif
from pipelines.rl.resume_match import resume_differences, resume_fields

log = logging.getLogger("arcadelab")

# Env-step marks at which the learning benchmark reads the evaluation return.
EVAL_MARKS = (250_000, 500_000, 1_000_000, 2_000_000)


class RLError(ValueError):
    """Bad RL input: an encoder that does not fit the env, nothing to resume, ..."""


@dataclass(frozen=True)
class RLResult:
    iterations: int
    env_steps: int
    episode_return_mean: float | None
    eval_return: float | None
    env_steps_per_s: float
    checkpoint: Path
    policy_version: str | None = None
    curve: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
    eval_curve: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
    tasks: tuple[int, ...] = field(default_factory=tuple)
    policy_aliases: tuple[str, ...] = ()  # the aliases moved to policy_version

    def registered_versions(self) -> dict[str, str]:
        """Alias -> the policy version this run registered under it (none: not registered)."""
        if self.policy_version is None:
            return {}
        return dict.fromkeys(self.policy_aliases, self.policy_version)

    def describe(self) -> str:
        def fmt(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.2f}"
        reg = f"; policy arcadelab-policy v{self.policy_version}" if self.policy_version else ""
        return (f"{self.env_steps} env steps, return {fmt(self.episode_return_mean)} "
                f"(eval {fmt(self.eval_return)}), {self.env_steps_per_s:.0f} env steps/s; "
                f"checkpoint {self.checkpoint}{reg}")


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def iteration_metrics(result: dict[str, Any], evaluated: bool = True) -> dict[str, float]:
    """Namespaced `rl/…` (and `curriculum/…`) metrics out of one `Algorithm.train()` result.

    RLlib repeats the last evaluation in every later result: pass `evaluated=False` on
    iterations that did not evaluate so it is not logged twice.
    """
    runners = result.get("env_runners", {})
    learner = result.get("learners", {}).get("default_policy", {})
    steps = _num(runners.get("num_env_steps_sampled", 0.0))
    timers = result.get("timers", {})
    out = {
        "rl/episode_return_mean": _num(runners.get("episode_return_mean")),
        "rl/episode_len_mean": _num(runners.get("episode_len_mean")),
        "rl/episodes": _num(runners.get("num_episodes_lifetime")),
        "rl/env_steps_sampled": _num(result.get("num_env_steps_sampled_lifetime", 0.0)),
        "rl/env_steps_iter": steps,
        "rl/env_steps_per_s": steps / max(_num(result.get("time_this_iter_s")), 1e-9),
        "rl/sample_steps_per_s": steps / max(_num(timers.get("env_runner_sampling_timer")),
                                             1e-9),
        "rl/policy_loss": _num(learner.get("policy_loss")),
        "rl/vf_loss": _num(learner.get("vf_loss")),
        "rl/entropy": _num(learner.get("entropy")),
        "rl/vf_explained_var": _num(learner.get("vf_explained_var")),
    }
    if "health" in result:
        out["rl/env_runner_restarts"] = float(result["health"]["env_runner_restarts"])
        out["rl/env_runners_healthy"] = float(result["health"]["env_runners_healthy"])
    evaluation = result.get("evaluation", {}).get("env_runners", {})
    if evaluated and "episode_return_mean" in evaluation:
        out["rl/eval_return"] = _num(evaluation["episode_return_mean"])
    if "curriculum" in result:
        out["curriculum/task"] = float(result["curriculum"]["task"])
        out["curriculum/reapplied"] = float(result["curriculum"]["reapplied"])
    return out


def pretrained_encoder(cfg: ArcadeConfig) -> tuple[EncoderSpec, dict[str, torch.Tensor], str]:
    """The registry encoder for `frozen` / `finetune`, checked against the env's observations."""
    rl = cfg.rl
    expected = scratch_spec(rl)
    try:
        encoder, spec, version = registry.load_registered_encoder(rl.encoder_alias)
    except (registry.RegistryError, EncoderCheckpointError) as exc:
        raise RLError(f"rl.transfer={rl.transfer}: {exc}") from None
    if spec.input_shape != expected.input_shape:
        raise RLError(
            f"rl.encoder_alias: models:/{registry.ENCODER_MODEL}@{rl.encoder_alias} (version "
            f"{version}) takes input {spec.input_shape}, but the policy env gives "
            f"{expected.input_shape}; choose an encoder of the stack84 view (e.g. "
            f"'atc-stack84') or change rl.frame_stack / rl.screen_size")
    state = {k: v.detach().cpu() for k, v in encoder.state_dict().items()}
    return spec, state, version


def resume_key(cfg: ArcadeConfig) -> str:
    """A digest of what must match for `--resume` (the science of the RL run, not its length)."""
    return config_digest(resume_fields(cfg))


def _pointer(cfg: ArcadeConfig) -> Path:
    return cfg.runtime.work_dir.resolve() / "checkpoints" / "rl-latest.json"


def latest_checkpoint(cfg: ArcadeConfig) -> dict[str, Any]:
    """The last RL checkpoint recorded in this work dir; RLError when there is none to resume."""
    pointer = _pointer(cfg)
    if not pointer.exists():
        raise RLError(f"--resume: no RL checkpoint recorded in {pointer.parent} (run "
                      "`arcadelab rl` first, with the same --work-dir)")
    info = json.loads(pointer.read_text())
    if "config" in info:  # field by field: fields added since the checkpoint keep defaults
        differs = resume_differences(info["config"], cfg)
    else:  # a record from before fields were kept: only the digest can be compared
        differs = [] if info.get("key") == resume_key(cfg) else ["game, seed or rl (digest)"]
    if differs:
        raise RLError(f"--resume: the checkpoint {info.get('path')} was trained with a "
                      f"different config: {'; '.join(differs)}. Resume with the same config "
                      "(only rl.iterations and other run-length settings may change)")
    path = Path(info["path"])
    if not path.is_dir() or not any(path.iterdir()):
        raise RLError(f"--resume: checkpoint directory {info['path']} is missing or empty")
    return info


def _save_checkpoint(algo: Algorithm, ckpt_root: Path, cfg: ArcadeConfig, run_id: str,
                     task: int) -> Path:
    # Written to a temp dir then renamed, and only then recorded: a kill mid-save never leaves
    # the pointer on a half-written checkpoint.
    final = ckpt_root / f"iter_{algo.iteration:06d}"
    tmp = ckpt_root / f".tmp_iter_{algo.iteration:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    algo.save_to_path(str(tmp))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer = _pointer(cfg)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    info = {"path": str(final), "iteration": algo.iteration, "run_id": run_id,
            "key": resume_key(cfg), "config": resume_fields(cfg), "curriculum_task": task}
    tmp_ptr = pointer.with_suffix(".tmp")
    tmp_ptr.write_text(json.dumps(info, indent=2))
    os.replace(tmp_ptr, pointer)
    for old in sorted(ckpt_root.glob("iter_*"))[:-2]:  # keep the last two
        shutil.rmtree(old, ignore_errors=True)
    return final


def build_algorithm(cfg: ArcadeConfig, encoder: tuple[EncoderSpec, dict[str, Any]] | None,
                    state: curriculum.CurriculumState | None) -> Algorithm:
    rl = cfg.rl
    task = state.tasks[state.index] if state else _mix_task(cfg)
    config = build_algo_config(cfg.game, rl, cfg.seed, encoder=encoder, task=task)
    if rl.evaluation_every:
        config.evaluation(
            evaluation_interval=rl.evaluation_every,
            evaluation_duration=rl.evaluation_episodes,
            evaluation_duration_unit="episodes",
            evaluation_num_env_runners=0,
            evaluation_config=type(config).overrides(
                # One env per episode, stepped together (capped): ten greedy episodes cost
                # about the wall time of the longest. RLlib counts the first N episodes to end,
                # so an env that finishes twice before another finishes once adds a short one;
                # Pong's shortest game (21-0) takes ~760 steps, so that is rare.
                explore=False, num_envs_per_env_runner=min(rl.evaluation_episodes, 16),
                # With a curriculum or a mix, evaluation always plays the target (last) task.
                env_config=target_env_config(cfg, state)),
        )
    hooks = [health_callbacks()] + ([curriculum.callbacks(state)] if state else [])
    config.callbacks(**merge(*hooks))
    return config.build_algo()


def _curriculum_state(cfg: ArcadeConfig) -> curriculum.CurriculumState | None:
    """The promotion schedule's state (None: no curriculum, or a mix, which has no order)."""
    cur = cfg.rl.curriculum
    if not cur.tasks or cur.order == "mix":
        return None
    schedule = curriculum.Schedule(len(cur.tasks), cur.promote_at, cur.demote_at,
                                   cur.min_episodes)
    return curriculum.CurriculumState(env_config(cfg.game, cfg.rl), cur.tasks, schedule)


def _mix_task(cfg: ArcadeConfig) -> dict[str, Any] | None:
    """`curriculum.order=mix`: every task at once, env i of a runner on task i mod n."""
    cur = cfg.rl.curriculum
    return {"mix": [dict(t) for t in cur.tasks]} if cur.tasks and cur.order == "mix" else None


def target_env_config(cfg: ArcadeConfig, state: curriculum.CurriculumState | None
                      ) -> dict[str, Any]:
    """What evaluation and the videos play: the curriculum's (or the mix's) last task, else
    the env trained on."""
    if state is not None:
        return state.target_env_config()
    tasks = cfg.rl.curriculum.tasks
    return env_config(cfg.game, cfg.rl, **(tasks[-1] if tasks else {}))


def _policy_net(algo: Algorithm) -> Any:
    return algo.get_module("default_policy").net


def _log_video(algo: Algorithm, cfg: ArcadeConfig, env_kwargs: dict[str, Any],
               iteration: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, score, steps = record_gif(_policy_net(algo), env_kwargs,
                                        Path(tmp) / f"eval_iter{iteration:05d}.gif",
                                        cfg.rl.video_max_steps, seed=cfg.seed)
        mlflow.log_artifact(str(path), "rl/videos")
    log.info("rl: video of %d agent steps (score %+.0f so far) logged", steps, score)


def marks_reached(eval_curve: tuple[list[float], list[float]],
                  marks: tuple[int, ...] = EVAL_MARKS) -> dict[str, float]:
    """`rl/eval_return_at_<k>`: the first evaluation at or after each env-step mark."""
    out: dict[str, float] = {}
    for mark in marks:
        after = [r for s, r in zip(*eval_curve, strict=True) if s >= mark]
        if after:
            label = f"{mark // 1_000_000}M" if mark % 1_000_000 == 0 else f"{mark // 1000}k"
            out[f"rl/eval_return_at_{label}"] = after[0]
    return out


def train_rl(cfg: ArcadeConfig, resume: bool = False) -> RLResult:
    """Train for `cfg.rl.iterations` (in total, counting a resumed run's); logs to the active
    MLflow run."""
    rl = cfg.rl
    if rl.torch_threads:
        torch.set_num_threads(rl.torch_threads)
    resume_info = latest_checkpoint(cfg) if resume else None
    encoder_version = None
    encoder = None
    if rl.transfer != "scratch":
        spec, weights, encoder_version = pretrained_encoder(cfg)
        encoder = (spec, weights)
        mlflow.set_tags({"arcadelab.encoder": f"{registry.ENCODER_MODEL}@{rl.encoder_alias}",
                         "arcadelab.encoder_version": encoder_version})
    state = _curriculum_state(cfg)
    if state is not None and resume_info:
        state.index = int(resume_info.get("curriculum_task", 0))
    run = mlflow.active_run()
    run_id = run.info.run_id if run else "norun"
    ckpt_root = cfg.runtime.work_dir.resolve() / "checkpoints" / f"rl-{run_id}"
    algo = build_algorithm(cfg, encoder, state)
    if resume_info:
        algo.restore_from_path(resume_info["path"])
        mlflow.set_tags({"arcadelab.resumed_from": resume_info["path"],
                         "arcadelab.resumed_from_run": resume_info["run_id"]})
        log.info("rl: resumed from %s (iteration %d)", resume_info["path"], algo.iteration)
    env_kwargs = target_env_config(cfg, state)
    curve: tuple[list[float], list[float]] = ([], [])
    eval_curve: tuple[list[float], list[float]] = ([], [])
    tasks: list[int] = []
    metrics: dict[str, float] = {}
    ckpt = Path(resume_info["path"]) if resume_info else ckpt_root
    start, trained = time.perf_counter(), 0
    # Env steps are planned, not exact: RLlib may sample a fragment more per iteration.
    planned = rl.iterations * rl.train_batch_size * max(1, rl.num_learners)
    try:
        with progress(rl.iterations, "rl", "iter", initial=algo.iteration) as bar:
            while algo.iteration < rl.iterations:
                result = algo.train()
                it = algo.iteration
                metrics = iteration_metrics(
                    result, evaluated=bool(rl.evaluation_every) and it % rl.evaluation_every == 0)
                steps = int(metrics["rl/env_steps_sampled"])
                trained += int(metrics["rl/env_steps_iter"])
                log_metrics(metrics, step=steps)
                ret = metrics["rl/episode_return_mean"]
                if not math.isnan(ret):
                    curve[0].append(steps)
                    curve[1].append(ret)
                if "rl/eval_return" in metrics:
                    eval_curve[0].append(steps)
                    eval_curve[1].append(metrics["rl/eval_return"])
                    if rl.video_max_steps:
                        _log_video(algo, cfg, env_kwargs, it)
                if "curriculum/task" in metrics:
                    tasks.append(int(metrics["curriculum/task"]))
                # The last evaluation stays on show until the next one (fields are sticky).
                bar.update(it, env_steps=f"{steps}/{planned}", return_=ret,
                           sps=round(metrics["rl/env_steps_per_s"]),
                           **({"eval": metrics["rl/eval_return"]} if "rl/eval_return" in metrics
                              else {}))
                if it % rl.checkpoint_every == 0 or it == rl.iterations:
                    ckpt = _save_checkpoint(algo, ckpt_root, cfg, run_id,
                                            state.index if state else 0)
        version = _register(algo, cfg, run_id, encoder_version, eval_curve) \
            if rl.register_policy else None
    finally:
        algo.stop()
    elapsed = time.perf_counter() - start
    env_steps = int(metrics.get("rl/env_steps_sampled", 0))
    rate = trained / elapsed
    log_metrics({"rl/train_time_s": elapsed, "rl/env_steps_per_s_overall": rate,
                 **marks_reached(eval_curve)})
    if ckpt.exists():
        mlflow.log_artifacts(str(ckpt), "checkpoint")
    _log_curves(cfg, curve, eval_curve)
    final = metrics.get("rl/episode_return_mean", math.nan)
    return RLResult(
        algo.iteration, env_steps, None if math.isnan(final) else final,
        eval_curve[1][-1] if eval_curve[1] else None, rate, ckpt, version,
        (tuple(curve[0]), tuple(curve[1])), (tuple(eval_curve[0]), tuple(eval_curve[1])),
        tuple(tasks), policy_aliases(rl.algorithm, rl.transfer) if version else ())


def _register(algo: Algorithm, cfg: ArcadeConfig, run_id: str, encoder_version: str | None,
              eval_curve: tuple[list[float], list[float]]) -> str | None:
    rl = cfg.rl
    module = algo.get_module("default_policy")
    tags = {"run_id": run_id, "game": cfg.game, "algorithm": rl.algorithm,
            "transfer": rl.transfer, "config_hash": cfg.hash("rl")}
    if encoder_version:
        tags["encoder_version"] = encoder_version
    if eval_curve[1]:
        tags["eval_return"] = f"{eval_curve[1][-1]:.2f}"
    spec = EncoderSpec(**module.model_config["encoder_spec"])
    version = registry.log_policy(module.net, spec, int(module.action_space.n), tags,
                                  actions=rl.actions,
                                  env_actions=policy_actions(cfg.game, rl.actions))
    if version is not None:
        for alias in policy_aliases(rl.algorithm, rl.transfer):
            registry.set_alias(alias, version, registry.POLICY_MODEL)
    return version


def _log_curves(cfg: ArcadeConfig, curve: tuple[list[float], list[float]],
                eval_curve: tuple[list[float], list[float]]) -> None:
    series = {k: v for k, v in {"training episodes (mean)": curve,
                                "evaluation (greedy)": eval_curve}.items() if v[0]}
    if not series:
        return
    with tempfile.TemporaryDirectory() as tmp:
        png = line_chart(series, Path(tmp) / "learning_curve.png",
                         f"{cfg.rl.algorithm.upper()} on {cfg.game} ({cfg.rl.transfer})",
                         "env steps", "episode return")
        mlflow.log_artifact(str(png), "rl")
