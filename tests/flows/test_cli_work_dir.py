"""A work dir that cannot be created or written to is refused in one line, exit 1, before Ray,
Prefect or MLflow are imported (they took ~30 s, or minutes of SQLite retries, to fail)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from pipelines.core.work_dir import WorkDirError, ensure_writable

runner = CliRunner()

# Every command that writes to the work dir. `config`, `ui` and `status` only read.
WRITERS = [["pipeline"], ["run", "data"], ["rl"], ["tune"], ["serve"],
           ["label", "export", "--out", "labels-out"], ["label", "import", "labels.csv"]]


def _under_a_file(tmp_path: Path) -> Path:
    """A work dir below a regular file: not creatable, even by root."""
    (tmp_path / "afile").write_text("not a folder")
    return tmp_path / "afile" / "work"


def _read_only_dir(tmp_path: Path) -> Path:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.access(ro, os.W_OK):  # root writes anyway: the chmod proves nothing here
        pytest.skip("running as root: a 0o555 folder is still writable")
    return ro


# ALE's C++ banner, printed when config validation first opens the ROM (pipelines/core/config/,
# game_variants); it bypasses Python's streams, so only a fresh process shows it.
ALE_BANNER = ("A.L.E: Arcade Learning Environment", "[Powered by Stella]")


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if not line.startswith(ALE_BANNER)]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("command", WRITERS)
def test_work_dir_under_a_file_is_refused(command: list[str], tmp_path: Path) -> None:
    work = _under_a_file(tmp_path)
    result = runner.invoke(app, [*command, "--preset", "smoke", "--work-dir", str(work)])
    assert result.exit_code == 1, result.output
    line = _one_error_line(result.stderr)
    assert line == (f"error: work dir {work} cannot be created: Not a directory "
                    f"({work.parent}); choose another --work-dir")


@pytest.mark.parametrize("command", [["pipeline"], ["run", "data"], ["serve"]])
def test_read_only_work_dir_is_refused(command: list[str], tmp_path: Path) -> None:
    ro = _read_only_dir(tmp_path)
    result = runner.invoke(app, [*command, "--preset", "smoke", "--work-dir", str(ro)])
    assert result.exit_code == 1, result.output
    assert _one_error_line(result.stderr) == (
        f"error: work dir {ro} is not writable: Permission denied; choose another --work-dir")
    assert list(ro.iterdir()) == [], "nothing may be written"


def test_refused_before_ray_prefect_or_mlflow_are_imported(tmp_path: Path) -> None:
    """The real entry point in a fresh process: exit 1, one line, no heavy import."""
    work = _under_a_file(tmp_path)
    probe = ("import sys\nfrom flows.cli import app\n"
             "try:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
             "heavy = [m for m in ('ray', 'prefect', 'mlflow', 'torch') if m in sys.modules]\n"
             "print(code, heavy)\n")
    proc = subprocess.run([sys.executable, "-c", probe, "pipeline", "--preset", "smoke",
                           "--work-dir", str(work)], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "1 []", proc.stdout + proc.stderr
    assert "cannot be created: Not a directory" in _one_error_line(proc.stderr)


@pytest.mark.parametrize("command", [["config"], ["status"]])
def test_read_only_commands_do_not_check_or_create(command: list[str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    work = tmp_path / "never-made"
    result = runner.invoke(app, [*command, "--work-dir", str(work)])
    assert "cannot be created" not in result.output
    assert not work.exists()
    # Even a work dir that could never be created is not checked by a command that only reads.
    impossible = _under_a_file(tmp_path)
    result = runner.invoke(app, [*command, "--work-dir", str(impossible)])
    assert "cannot be created" not in result.output


def test_ensure_writable_proves_a_nested_dir_and_leaves_nothing(tmp_path: Path) -> None:
    """A work dir yet to be made is proved creatable without being made: a run refused later
    (an unreachable MLflow server, say) leaves no empty work dir behind."""
    work = tmp_path / "a" / "b"
    assert ensure_writable(work, ("mlflow.db",)) == work
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == []


def test_ensure_writable_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(WorkDirError, match=r"work dir .*/f is not a directory"):
        ensure_writable(tmp_path / "f")


def test_ensure_writable_refuses_a_read_only_store_file(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"")
    db.chmod(0o444)
    if os.access(db, os.W_OK):
        pytest.skip("running as root: a 0o444 file is still writable")
    with pytest.raises(WorkDirError, match=r"mlflow\.db in the work dir is not writable"):
        ensure_writable(tmp_path, ("mlflow.db",))
    ensure_writable(tmp_path)  # not named: not the store in use, not checked
