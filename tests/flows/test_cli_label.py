"""`arcadelab label`: help, and one clear message plus a non-zero exit when there is nothing to
label. (Export and import on a real loop: tests/integration/test_active.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


@pytest.mark.parametrize("cmd", [["label"], ["label", "export"], ["label", "import"]])
def test_help(cmd: list[str]) -> None:
    result = runner.invoke(app, [*cmd, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_several_strategies_need_a_choice(tmp_path: Path) -> None:
    result = runner.invoke(app, ["label", "export", "--out", str(tmp_path / "o"), "--preset",
                                 "smoke", "--work-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--strategy: choose one of random, least_confidence" in result.output


def test_no_dataset_no_loop(tmp_path: Path) -> None:
    result = runner.invoke(app, ["label", "import", str(tmp_path / "x.csv"), "--preset",
                                 "smoke", "--work-dir", str(tmp_path), "--strategy", "margin",
                                 "--mlflow-uri", f"sqlite:///{tmp_path / 'm.db'}"])
    assert result.exit_code == 1
    assert "no dataset at" in result.output
