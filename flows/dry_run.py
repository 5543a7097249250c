"""`arcadelab pipeline --dry-run`: which stages would run, which would be reused, and why.

Nothing runs: no Ray, no Prefect flow run (nor Prefect's ephemeral server), no MLflow run, and
a work dir or SQLite store that does not exist is not created. Each stage's key is the one the
pipeline computes (`stage_cache_key`, every stage before it counting as upstream); its result
is looked up the way Prefect's task cache looks it up (`stored_result`) and checked the way a
cached result is checked before reuse (`unusable_files`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from flows.caching import (
    NOT_STORED,
    registered_version,
    registry_refs,
    stage_cache_key,
    stored_result,
    unusable_files,
)
from flows.stage_registry import stage as stage_spec
from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig

if TYPE_CHECKING:  # flows.resume imports RLlib: only --resume needs it
    from flows.resume import ResumePoint

REUSE, RUN = "reuse", "run"


@dataclass(frozen=True)
class RegistryInput:
    """A registered model the stage's key follows, and the version its alias names now."""

    model: str
    alias: str
    version: str  # "none": nothing registered under it (yet)


@dataclass(frozen=True)
class StagePlan:
    stage: str
    action: str  # REUSE or RUN
    reason: str
    key: str
    upstream: tuple[str, ...]
    registry: tuple[RegistryInput, ...]


@dataclass(frozen=True)
class PipelinePlan:
    stages: tuple[StagePlan, ...]
    cache: str
    tracking_uri: str
    resume: ResumePoint | None  # None: --resume not asked


def plan_pipeline(cfg: ArcadeConfig, resume: ResumePoint | None = None) -> PipelinePlan:
    """The plan of `arcadelab pipeline` with this config, stage by stage, in order."""
    plans: list[StagePlan] = []
    stages = cfg.pipeline.stages
    for i, stage in enumerate(stages):
        plans.append(_plan_stage(cfg, stage, stages[:i], plans, resume))
    return PipelinePlan(tuple(plans), str((cfg.runtime.work_dir / "cache").resolve()),
                        tracking.tracking_uri(cfg), resume)


def _plan_stage(cfg: ArcadeConfig, stage: str, upstream: tuple[str, ...],
                earlier: list[StagePlan], resume: ResumePoint | None) -> StagePlan:
    key = stage_cache_key(stage, cfg, upstream)
    registry = tuple(RegistryInput(model, alias, registered_version(cfg, model, alias))
                     for model, alias in registry_refs(stage, cfg, upstream))
    action, reason = _verdict(cfg, stage, key, registry, earlier)
    if action == RUN and stage == "rl" and resume is not None:
        reason = f"{reason}; {resume.note.removeprefix('rl: ')}"
    return StagePlan(stage, action, reason, key, upstream, registry)


def _verdict(cfg: ArcadeConfig, stage: str, key: str, registry: tuple[RegistryInput, ...],
             earlier: list[StagePlan]) -> tuple[str, str]:
    """What `flows.caching.run_stage` would do under this key, with the reason."""
    always = stage_spec(stage).always_run
    if always:
        return RUN, f"always runs: {always}"
    if not cfg.runtime.reuse_stages:
        return RUN, "runtime.reuse_stages is off"
    try:
        result = stored_result(cfg, key)
    except Exception as exc:  # a record Prefect could not load either
        return RUN, f"cached result unreadable: {exc}"
    if result is NOT_STORED:
        return RUN, "no result for this config/code/registry version"
    problems = unusable_files(result)
    if problems:
        return RUN, f"cached result unusable: {'; '.join(problems)}"
    consumed = {r.model for r in registry if not r.alias.isdigit()}  # a number never moves
    for plan in earlier:
        # A stage that registers a model later stages load by alias: when it runs first, the
        # aliases it moves name a new version, so a consumer's key changes and it runs too.
        model = stage_spec(plan.stage).produces(cfg)
        if plan.action == RUN and model in consumed:
            return RUN, (f"upstream {plan.stage} runs first and registers a new {model} "
                         "version, which this key follows")
    return REUSE, "finished result stored under this key, its files intact"


def to_json(plan: PipelinePlan) -> str:
    return json.dumps(asdict(plan), indent=2)


def _versions(stage: StagePlan) -> str:
    """`encoder@champion=v3, policy@current=none` (the JSON keeps the full model names)."""
    return ", ".join(
        f"{r.model.removeprefix('arcadelab-')}@{r.alias}="
        f"{'none' if r.version == 'none' else 'v' + r.version}" for r in stage.registry) or "-"


def format_plain(plan: PipelinePlan) -> str:
    """The plan as plain text lines (where rich is not installed)."""
    width = max(len(s.stage) for s in plan.stages) if plan.stages else 0
    lines = [f"{s.stage:<{width}}  {s.action:<5}  {s.reason}  [key {s.key}; registry "
             f"{_versions(s)}]" for s in plan.stages]
    return "\n".join([*lines, *_footer(plan)]) + "\n"


def _footer(plan: PipelinePlan) -> list[str]:
    lines = [f"stage cache: {plan.cache}", f"MLflow store: {plan.tracking_uri}"]
    if plan.resume is not None:
        lines.append(f"--resume: {plan.resume.note}")
    runs = sum(s.action == RUN for s in plan.stages)
    lines.append(f"dry run: {runs} to run, {len(plan.stages) - runs} to reuse; nothing was run")
    return lines


def print_plan(plan: PipelinePlan) -> None:
    """A table on stdout: rich's when it is installed, else plain lines."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich comes with typer and Prefect, but is not ours to require
        print(format_plain(plan), end="")
        return
    table = Table(title="arcadelab pipeline --dry-run")
    for column in ("stage", "action", "why", "registry versions in the key", "cache key"):
        table.add_column(column, overflow="fold")
    for s in plan.stages:
        colour = "green" if s.action == REUSE else "yellow"
        table.add_row(s.stage, f"[{colour}]{s.action}[/{colour}]", s.reason, _versions(s),
                      s.key)
    console = Console()
    if not console.is_terminal:  # piped or logged: one line per stage beats 80 columns
        console.width = 200
    console.print(table)
    for line in _footer(plan):
        console.print(line, markup=False, highlight=False)
