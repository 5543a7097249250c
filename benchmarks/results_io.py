"""Results are data (docs/design.md): every benchmark appends its rows to a CSV under
`benchmarks/results/`, each row stamped with the code (git sha) and the date that made it, so a
figure in docs/ can be redrawn or checked without rerunning the measurement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.core.tracking import git_sha

RESULTS = Path(__file__).resolve().parent / "results"


def append_rows(name: str, rows: Iterable[Mapping[str, Any]], *, seed: int | None = None,
                config_hash: str | None = None, replace: str | None = None) -> Path:
    """Append rows to `benchmarks/results/<name>.csv`, stamped with seed, config_hash, git_sha
    and date where a row does not carry its own.

    `replace` names a column (e.g. `run_id`): older rows with a value the new rows carry there
    are dropped first, so re-reading a run that went on updates its rows instead of doubling
    them. Columns are the union of the file's and the new rows' (a new column leaves older
    rows empty), so a results file grows without ever being edited by hand."""
    new = pd.DataFrame(list(rows))
    if new.empty:
        raise ValueError(f"no rows to append to {name}.csv")
    stamps = {"seed": seed, "config_hash": config_hash, "git_sha": git_sha(),
              "date": dt.date.today().isoformat()}
    for col, value in stamps.items():
        if col not in new.columns:
            new[col] = value
        elif value is not None:
            new[col] = new[col].fillna(value)
    path = RESULTS / f"{name}.csv"
    RESULTS.mkdir(parents=True, exist_ok=True)
    if path.exists():
        old = pd.read_csv(path)
        if replace is not None and replace in old.columns:
            old = old[~old[replace].isin(set(new[replace]))]
        new = pd.concat([old, new], ignore_index=True)
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


def append_and_read(name: str, rows: Iterable[Mapping[str, Any]], replace: str) -> pd.DataFrame:
    """Append a store's rows (replacing its older ones by `replace`) and return the whole
    file: work dirs are lost between sessions, the results file keeps every run measured, so
    tables and charts are drawn from it."""
    print(f"wrote {append_rows(name, rows, replace=replace)}")
    return read_rows(name)


def save_figure(fig: Any, out: Path) -> None:
    """Write a matplotlib figure, creating its folder."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
