"""`arcadelab pipeline --resume`: the RL stage continues from its last checkpoint.

`arcadelab rl --resume` insists on a checkpoint. A pipeline may have been killed before RL
began, or after it finished, so here a missing, foreign or finished checkpoint only means RL,
if it runs, starts at iteration 0. The RL stage reads `runtime.resume` (flows/stages.py,
`rl_task`), so the decision travels in the config the pipeline runs with; finished stages are
reused by the stage cache as on any run (`runtime` is not part of a cache key).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.core.config import ArcadeConfig
from pipelines.rl.train import RLError, latest_checkpoint


@dataclass(frozen=True)
class ResumePoint:
    """Where the pipeline's RL stage starts, and the line that says so."""

    resume: bool
    note: str
    iteration: int | None = None
    checkpoint: str | None = None


def pipeline_resume(cfg: ArcadeConfig) -> tuple[ArcadeConfig, ResumePoint]:
    """The config to run the pipeline with (`runtime.resume` kept only where RL can resume)."""
    if not cfg.runtime.resume:
        return cfg, ResumePoint(False, "")
    point = _resume_point(cfg)
    if not point.resume:
        cfg = cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"resume": False})})
    return cfg, point


def _resume_point(cfg: ArcadeConfig) -> ResumePoint:
    if "rl" not in cfg.pipeline.stages:
        return ResumePoint(False, "rl: nothing to resume: pipeline.stages has no rl stage")
    try:
        info = latest_checkpoint(cfg)
    except RLError as exc:
        # RLError speaks to `arcadelab rl --resume`; keep its reason, not its advice.
        reason = str(exc).removeprefix("--resume: ").split(" (run `arcadelab rl` first")[0]
        return ResumePoint(False, f"rl: nothing to resume: {reason}")
    iteration, path = int(info["iteration"]), str(info["path"])
    if iteration >= cfg.rl.iterations:
        # A finished run: resuming it would train nothing (raise rl.iterations to go on).
        return ResumePoint(False, f"rl: nothing to resume: the last checkpoint ({path}) "
                           f"already reached rl.iterations={cfg.rl.iterations}")
    return ResumePoint(True, f"rl: resumes from iteration {iteration} ({path})", iteration, path)
