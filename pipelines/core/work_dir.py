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
    """Prove `work_dir` can be written, or created and then written, by creating and deleting
    a temp file in it or, while it does not exist yet, in its nearest existing ancestor:
    nothing is left behind (a run refused later, say for an unreachable MLflow server, must
    leave no empty work dir). Each of `files` that already exists there must open for
    writing too (a read-only `mlflow.db` in a writable folder is the same failure). Returns
    the absolute path."""
    path = work_dir.expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise WorkDirError(f"work dir {path} is not a directory")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise WorkDirError(f"work dir {path} cannot be created: Not a directory ({probe})")
    try:
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".arcadelab-write-check-"):
            pass
    except OSError as exc:
        what = "is not writable" if probe == path else f"cannot be created in {probe}"
        raise WorkDirError(f"work dir {path} {what}: "
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
