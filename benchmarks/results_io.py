"""Results are data (docs/design.md): every benchmark appends its rows to a CSV under
`benchmarks/results/`, each row stamped with the code (git sha) and the date that made it, so a
figure in docs/ can be redrawn or checked without rerunning the measurement.

The learning benchmarks (`rl_runs.py`, `time_to_solve.py`, `transfer.py`, `rl_learning.py`)
run `arcadelab rl` into a store (`<store>/mlflow.db`) and read their rows back from it: the
store's client, its `rl` stage runs and their evaluations are read here, once."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Run

from pipelines.core.tracking import TAG_STAGE, git_sha

RESULTS = Path(__file__).resolve().parent / "results"
EVAL_METRIC = "rl/eval_return"  # the greedy evaluation return, logged at its env steps
MAX_RUNS = 10_000  # more than any store holds; MLflow's default page is 1,000
K = TypeVar("K", bound=Hashable)


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


def store_uri(store: Path) -> str:
    """The tracking URI of a benchmark's store: `<store>/mlflow.db`."""
    return f"sqlite:///{(store / 'mlflow.db').resolve()}"


def store_client(store: Path) -> MlflowClient:
    """Tracking and model registry of the store (the registry URI is not implied)."""
    uri = store_uri(store)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def stage_runs(client: MlflowClient, stage: str = "rl") -> list[Run]:
    """Every run of a stage in the store, over all experiments, oldest first (a resumed run
    is a new MLflow run: the newest of an env step's evaluations is the one that counts)."""
    ids = [e.experiment_id for e in client.search_experiments()]
    if not ids:
        return []
    runs = client.search_runs(ids, f"tags.`{TAG_STAGE}` = '{stage}'", max_results=MAX_RUNS)
    return sorted(runs, key=lambda r: r.info.start_time)


def runs_by(runs: Iterable[Run], key: Callable[[Run], K | None]) -> dict[K, list[Run]]:
    """Runs grouped by `key(run)`, each group in the runs' order; a None key leaves a run out
    (another benchmark's run in the same store)."""
    groups: dict[K, list[Run]] = defaultdict(list)
    for run in runs:
        k = key(run)
        if k is not None:
            groups[k].append(run)
    return groups


def evaluations(client: MlflowClient, run_id: str) -> list[Metric]:
    """A run's greedy evaluations: `rl/eval_return`, its step the env steps sampled."""
    return client.get_metric_history(run_id, EVAL_METRIC)
