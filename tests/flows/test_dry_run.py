"""`arcadelab pipeline --dry-run` and `--resume` without running a stage: the plan of a fresh
work dir, its JSON, and which checkpoints the pipeline's RL stage resumes from. (A dry run
after a real data stage says `reuse`: tests/flows/test_flows.py; the kill-and-resume end to
end: tests/integration/test_resume.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from flows.dry_run import RUN, plan_pipeline, to_json
from flows.resume import pipeline_resume
from pipelines.core.config import STAGES, ArcadeConfig, load_config
from pipelines.rl.train import resume_key
from tests.servers import isolated_env


def smoke(work: Path, *sets: str, resume: bool = False) -> ArcadeConfig:
    return load_config("smoke", sets=sets, runtime={
        "work_dir": work, "mlflow_tracking_uri": f"sqlite:///{work / 'mlflow.db'}",
        "resume": resume})


def test_fresh_work_dir_runs_every_stage_and_creates_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    plan = plan_pipeline(smoke(work))
    assert [s.stage for s in plan.stages] == list(STAGES)
    assert all(s.action == RUN for s in plan.stages)
    reasons = {s.stage: s.reason for s in plan.stages}
    assert reasons.pop("active").startswith("always runs: ")
    assert set(reasons.values()) == {"no result for this config/code/registry version"}
    # Every stage before it is upstream, as in a real pipeline run.
    assert [s.upstream for s in plan.stages] == [STAGES[:i] for i in range(len(STAGES))]
    # The registry versions the keys used: nothing is registered in a store that is not there.
    policy_transfer = next(s for s in plan.stages if s.stage == "policy_transfer")
    assert [(r.model, r.alias, r.version) for r in policy_transfer.registry] == [
        ("arcadelab-policy", "current", "none")]
    assert not work.exists()


def test_json_parses_and_names_every_stage(tmp_path: Path) -> None:
    doc = json.loads(to_json(plan_pipeline(smoke(tmp_path / "w", "pipeline.stages=[data,rl]"))))
    assert [(s["stage"], s["action"]) for s in doc["stages"]] == [("data", RUN), ("rl", RUN)]
    assert doc["stages"][1]["upstream"] == ["data"] and doc["resume"] is None
    assert doc["cache"] == str((tmp_path / "w" / "cache").resolve())


def _checkpoint(cfg: ArcadeConfig, iteration: int, key: str | None = None) -> Path:
    """A checkpoint folder and the `rl-latest.json` record the RL stage writes beside it."""
    root = cfg.runtime.work_dir.resolve() / "checkpoints"
    path = root / "rl-run1" / f"iter_{iteration:06d}"
    path.mkdir(parents=True, exist_ok=True)
    (path / "algorithm_state.pkl").write_bytes(b"state")
    (root / "rl-latest.json").write_text(json.dumps({
        "path": str(path), "iteration": iteration, "run_id": "run1",
        "key": key or resume_key(cfg), "curriculum_task": 0}))
    return path


def test_resume_reaches_the_rl_stage_only_from_a_checkpoint_of_this_config(
        tmp_path: Path) -> None:
    cfg = smoke(tmp_path / "w", "pipeline.stages=[data,rl]", resume=True)
    # Killed before RL wrote a checkpoint: RL starts afresh; the flag is dropped, not an error.
    ran, point = pipeline_resume(cfg)
    assert ran.runtime.resume is False and point.note.startswith("rl: nothing to resume")
    # Killed after iteration 1 of 2: the config the pipeline runs with resumes (the RL stage
    # passes `runtime.resume` to train_rl), and the dry run says from where.
    path = _checkpoint(cfg, 1)
    ran, point = pipeline_resume(cfg)
    assert ran.runtime.resume is True and (point.iteration, point.checkpoint) == (1, str(path))
    rl = plan_pipeline(ran, point).stages[1]
    assert rl.action == RUN and f"resumes from iteration 1 ({path})" in rl.reason
    # A finished run, one of another RL config, or a pipeline without RL: nothing to resume.
    _checkpoint(cfg, 2)
    assert pipeline_resume(cfg)[0].runtime.resume is False
    _checkpoint(cfg, 1, key="another-config")
    assert pipeline_resume(cfg)[0].runtime.resume is False
    _checkpoint(cfg, 1)
    no_rl = smoke(tmp_path / "w", "pipeline.stages=[data]", resume=True)
    assert pipeline_resume(no_rl)[0].runtime.resume is False
    # Without --resume nothing changes.
    plain = smoke(tmp_path / "w", "pipeline.stages=[data,rl]")
    assert pipeline_resume(plain)[0] is plain


def test_cli_dry_run_starts_nothing(tmp_path: Path) -> None:
    """The real command in its own process: JSON on stdout, exit 0, and no work dir, no MLflow
    store, no Prefect database (its ephemeral server never started)."""
    work, prefect_home = tmp_path / "work", tmp_path / "prefect"
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "pipeline", "--preset", "smoke", "--dry-run",
         "--json", "--work-dir", str(work), "--set", "pipeline.stages=[data,pretrain,rl]"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env=isolated_env(PREFECT_HOME=str(prefect_home)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert [(s["stage"], s["action"]) for s in doc["stages"]] == [
        ("data", RUN), ("pretrain", RUN), ("rl", RUN)]
    assert not work.exists()
    assert not list(prefect_home.rglob("*.db")), list(prefect_home.rglob("*"))


def test_json_needs_dry_run(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    result = CliRunner().invoke(app, ["pipeline", "--json", "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 2 and "--json goes with --dry-run" in result.output
    assert not (tmp_path / "w").exists()
