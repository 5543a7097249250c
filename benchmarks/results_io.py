"""Results are data (shared/DESIGN.md): every benchmark appends its rows to a CSV under
`benchmarks/results/`, each row stamped with the code (git sha) and the date that made it, so a
figure in docs/ can be redrawn or checked without rerunning the measurement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.tracking import git_sha

RESULTS = Path(__file__).resolve().parent / "results"


def append_rows(name: str, rows: Iterable[Mapping[str, Any]], *, seed: int,
                config_hash: str) -> Path:
    """Append rows to `benchmarks/results/<name>.csv` with seed, config_hash, git_sha, date.

    Columns are the union of the file's and the new rows' (a new column leaves older rows
    empty), so a results file grows without ever being rewritten by hand."""
    new = pd.DataFrame(list(rows))
    if new.empty:
        raise ValueError(f"no rows to append to {name}.csv")
    new = new.assign(seed=seed, config_hash=config_hash, git_sha=git_sha(),
                     date=dt.date.today().isoformat())
    path = RESULTS / f"{name}.csv"
    RESULTS.mkdir(parents=True, exist_ok=True)
    if path.exists():
        new = pd.concat([pd.read_csv(path), new], ignore_index=True)
    tmp = path.with_suffix(".csv.tmp")
    new.to_csv(tmp, index=False)
    tmp.replace(path)  # never a half-written results file
    return path


def read_rows(name: str) -> pd.DataFrame:
    """The rows of `benchmarks/results/<name>.csv` (FileNotFoundError names the file)."""
    path = RESULTS / f"{name}.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run the benchmark that writes it")
    return pd.read_csv(path)
