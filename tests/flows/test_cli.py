"""The CLI: --help everywhere, and one clear message plus a non-zero exit for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


@pytest.mark.parametrize("cmd", [[], ["pipeline"], ["run"], ["config"], ["ui"]])
def test_help(cmd: list[str]) -> None:
    result = runner.invoke(app, [*cmd, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--set", "data.nmu_tasks=3"], "data.nmu_tasks: unknown key (did you mean 'num_tasks'?)"),
        (["--set", "rl.lr=fast"], "rl.lr: Input should be a valid number"),
        (["--set", "data.num_tasks=-2"], "data.num_tasks: Input should be greater than or equal"),
        (["--set", "rl.iterations=0"], "rl.iterations"),
        (["--set", "game=ALE/Pongg-v5"], "did you mean ALE/Pong-v5"),
        (["--set", "novalue"], "--set expects key.path=value"),
        (["--config", "/nonexistent/x.yaml"], "config file not found"),
    ],
)
@pytest.mark.parametrize("command", [["pipeline"], ["run", "data"], ["config"]])
def test_bad_config_exits_2_naming_the_field(command: list[str], args: list[str],
                                             message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [*command, *args, "--work-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "mlflow.db").exists(), "nothing may be created before validation"


def test_unknown_stage(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "pretrain-everything", "--work-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown stage 'pretrain-everything'" in result.output


def test_config_prints_resolved_yaml() -> None:
    result = runner.invoke(app, ["config", "--preset", "smoke", "--set", "rl.iterations=7"])
    assert result.exit_code == 0
    assert "iterations: 7" in result.output and "preset: smoke" in result.output



@pytest.mark.parametrize(("flag", "quiet"), [(["--quiet"], "1"), (["-q"], "1"), ([], None)])
def test_global_quiet_turns_progress_off_for_this_process_and_its_children(
        flag: list[str], quiet: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.core.progress import QUIET_ENV

    monkeypatch.setenv(QUIET_ENV, "")  # undone after the test, whatever the CLI sets
    result = runner.invoke(app, [*flag, "config", "--preset", "smoke"])
    assert result.exit_code == 0, result.output
    assert (os.environ[QUIET_ENV] or None) == quiet

@pytest.mark.integration
def test_unreachable_ray_cluster_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "data", "--preset", "smoke",
         "--ray-address", "127.0.0.1:1", "--work-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 1, proc.stderr
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in proc.stderr
    assert not list(tmp_path.glob("datasets/*")), "no compute may start"
