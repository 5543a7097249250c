"""Tables and charts that the multimodal, multi-task, GAN and few-shot stages log to MLflow:
each table as CSV and markdown, charts as PNG."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from pipelines.features.probes import probe_table_markdown


def log_table(df: pd.DataFrame, artifact_dir: str, name: str) -> None:
    """`<artifact_dir>/<name>.csv` and `.md` on the active run."""
    with tempfile.TemporaryDirectory() as tmp:
        df.to_csv(Path(tmp) / f"{name}.csv", index=False)
        (Path(tmp) / f"{name}.md").write_text(probe_table_markdown(df))
        mlflow.log_artifacts(tmp, artifact_dir)


def log_png(save: Callable[[Path], object], artifact_dir: str, name: str) -> None:
    """Draw with `save(path)` into a temp file and log it as `<artifact_dir>/<name>.png`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.png"
        save(path)
        mlflow.log_artifact(str(path), artifact_dir)


def grouped_bars(grid: pd.DataFrame, path: Path, title: str, ylabel: str,
                 ylim: tuple[float, float] | None = (0.0, 1.0)) -> Path:
    """One group per row of `grid`, one bar per column (NaN cells are left out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = list(grid.index), list(grid.columns)
    x = np.arange(len(rows))
    width = 0.8 / max(len(cols), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(rows) + 2), 4), dpi=110)
    for i, col in enumerate(cols):
        ax.bar(x + (i - (len(cols) - 1) / 2) * width, grid[col].to_numpy(dtype=float), width,
               label=str(col))
    ax.set_xticks(x, [str(r) for r in rows])
    ax.set(title=title, ylabel=ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def lines(series: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]],
          path: Path, title: str, xlabel: str, ylabel: str, logx: bool = False,
          hline: tuple[float, str] | None = None) -> Path:
    """A line per series {label: (x, y, error or None)}, optional dashed reference line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for label, (x, y, err) in series.items():
        ax.errorbar(x, y, yerr=err, marker="o", markersize=4, capsize=3, label=label)
    if hline is not None:
        ax.axhline(hline[0], color="grey", linestyle="--", label=hline[1])
    if logx:
        ax.set_xscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
