"""A work dir the CLI may write to, proved in milliseconds before Ray, Prefect or MLflow start.

Without this check a read-only `--work-dir` fails with a traceback after ~30 s of start-up,
and an existing read-only directory sends MLflow's SQLite store into minutes of retries.
Only the standard library here: the CLI calls it before importing anything heavy.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path


class WorkDirError(OSError):
    """The work dir cannot be created or written to (the message names the path and why)."""


def ensure_writable(work_dir: Path, files: Iterable[str] = ()) -> Path:
    """Create `work_dir` if needed and prove it writable by creating and deleting a temp file
    in it; each of `files` that already exists there must open for writing too (a read-only
    `mlflow.db` in a writable folder is the same failure). Returns the absolute path."""
    path = work_dir.expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise WorkDirError(f"work dir {path} is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkDirError(f"work dir {path} cannot be created: {_reason(exc, path)}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".arcadelab-write-check-"):
            pass
    except OSError as exc:
        raise WorkDirError(f"work dir {path} is not writable: "
                           f"{exc.strerror or exc}") from None  # not the temp file's name
    for name in files:
        existing = path / name
        if existing.is_file():
            try:
                with existing.open("r+b"):
                    pass
            except OSError as exc:
                raise WorkDirError(f"{existing} in the work dir is not writable: "
                                   f"{_reason(exc, existing)}") from None
    return path


def _reason(exc: OSError, path: Path) -> str:
    """The OS's words, plus the path it tripped on when that is not `path` itself."""
    reason = exc.strerror or str(exc)
    tripped = exc.filename and Path(exc.filename).absolute() != path
    return f"{reason} ({exc.filename})" if tripped else reason
