"""The RL commands: help, bad input refused with exit 2 before any compute."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


@pytest.mark.parametrize("cmd", [["rl"], ["tune"]])
def test_help(cmd: list[str]) -> None:
    result = runner.invoke(app, [*cmd, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_resume_without_checkpoint(tmp_path: Path) -> None:
    # Its own process: this path imports Prefect, whose log handlers would keep CliRunner's
    # captured stream after the runner closed it.
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "rl", "--preset", "smoke",
                           "--resume", "--work-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "no RL checkpoint recorded" in proc.stderr


@pytest.mark.parametrize(("cmd", "args", "message"), [
    (["rl"], ["--set", "rl.transfer=thawed"], "rl.transfer"),
    (["rl"], ["--set", "rl.arch=resnet"], "rl.arch"),
    (["rl"], ["--set", "rl.curriculum.tasks=[{mode: 1}]"], "env_backend=gymnasium"),
    (["tune"], ["--set", "tune.params={lrr: [1]}"], "did you mean 'lr'"),
])
def test_bad_rl_config_exits_2(cmd: list[str], args: list[str], message: str,
                               tmp_path: Path) -> None:
    result = runner.invoke(app, [*cmd, "--preset", "smoke", "--work-dir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "checkpoints").exists()  # nothing written
