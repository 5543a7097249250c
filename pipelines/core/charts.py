"""Every picture the stages log to MLflow, and the tables that go with them.

- `frame_grid`: tiled game frames with caption lines and red crosshairs where the RAM labels
  put each object (data prep's sample grid; the audio-frame alignment's candidate frames).
- `recon_grid`: rows of [original | reconstruction] (the pretraining autoencoder per epoch,
  the multimodal RAM-to-frame translation).
- `line_chart`: learning curves, a line per series (RL training, RL experiments).
- `lines`: curves with error bars, an optional log x-axis and a dashed reference line
  (few-shot accuracy against k, the GAN's Frechet distance per epoch).
- `grouped_bars`: one group of bars per row of a grid (multimodal fusion, multi-task F1).
- `log_png` / `log_table`: log a chart as `<dir>/<name>.png`, a table as `.csv` and `.md`.

One module, so that every chart has the same look (size, dpi, grid, legend) and matplotlib's
headless Agg backend is chosen once, on the first chart, not in every function: the stages
run on Ray workers and CI machines with no display. Charts drawn for one stage only (active
learning's F1 against labels, the data curriculum's two panels, the policy-transfer bars, the
probes' bars and few-shot curves) stay beside the code that computes their data.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType

import mlflow
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from pipelines.features.probes import probe_table_markdown

BG = (20, 20, 20)
DPI = 110


@functools.cache
def _pyplot() -> ModuleType:
    """matplotlib.pyplot on the headless Agg backend, chosen on the first call only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, **savefig: object) -> Path:
    """Lay out, write and close `fig`; return `path`."""
    fig.tight_layout()
    fig.savefig(path, **savefig)
    _pyplot().close(fig)
    return Path(path)


def frame_grid(
    frames: np.ndarray,
    captions: Sequence[Sequence[str]],
    markers: Sequence[Mapping[str, tuple[int, int]]] = (),
    cols: int = 4,
    scale: int = 2,
) -> Image.Image:
    """Tile grayscale frames (N, H, W) with caption lines under each and red crosshairs at
    the pixel positions the RAM labels give (so a reader sees frame and RAM agree)."""
    n, h, w = frames.shape
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    cap_h = 12 * max((len(c) for c in captions), default=0) + 4
    tile_w, tile_h = w * scale, h * scale + cap_h
    sheet = Image.new("RGB", (cols * tile_w, rows * tile_h), BG)
    draw = ImageDraw.Draw(sheet)
    for i in range(n):
        x0, y0 = (i % cols) * tile_w, (i // cols) * tile_h
        img = Image.fromarray(frames[i]).convert("RGB").resize((tile_w, h * scale),
                                                                Image.NEAREST)
        sheet.paste(img, (x0, y0))
        for name, (px, py) in (markers[i] if i < len(markers) else {}).items():
            if not (0 <= px < w and 0 <= py < h):
                continue  # object not on screen (e.g. Pong's ball between points)
            cx, cy = x0 + px * scale + scale, y0 + py * scale + 2 * scale
            draw.line([(cx - 8, cy), (cx + 8, cy)], fill=(255, 40, 40), width=1)
            draw.line([(cx, cy - 8), (cx, cy + 8)], fill=(255, 40, 40), width=1)
            draw.text((cx + 4, cy + 2), name, fill=(255, 80, 80))
        for j, line in enumerate(captions[i] if i < len(captions) else ()):
            draw.text((x0 + 3, y0 + h * scale + 2 + 12 * j), line, fill=(230, 230, 230))
    return sheet


def recon_grid(originals: np.ndarray, recons: np.ndarray, scale: int = 2) -> np.ndarray:
    """Rows of [original | reconstruction] (last channel of each view), uint8 HxW for MLflow.

    originals: (N, C, H, W) uint8; recons: (N, C, H, W) float in [0, 1]."""
    orig = originals[:, -1].astype(np.uint8)
    rec = (np.clip(recons[:, -1], 0, 1) * 255).round().astype(np.uint8)
    gap = np.full((orig.shape[1], 4), 255, np.uint8)
    rows = [np.concatenate([o, gap, r], axis=1) for o, r in zip(orig, rec, strict=True)]
    sep = np.full((4, rows[0].shape[1]), 255, np.uint8)
    grid = np.concatenate([x for row in rows for x in (row, sep)][:-1], axis=0)
    return np.kron(grid, np.ones((scale, scale), np.uint8))


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: Path,
    title: str,
    xlabel: str,
    ylabel: str,
) -> Path:
    """Save one chart with a line per series {label: (x, y)} as a PNG."""
    fig, ax = _pyplot().subplots(figsize=(7, 4), dpi=DPI)
    for label, (x, y) in series.items():
        ax.plot(x, y, marker="o", markersize=3, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return _save(fig, path)


def lines(series: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]],
          path: Path, title: str, xlabel: str, ylabel: str, logx: bool = False,
          hline: tuple[float, str] | None = None) -> Path:
    """A line per series {label: (x, y, error or None)}, optional dashed reference line."""
    fig, ax = _pyplot().subplots(figsize=(7, 4), dpi=DPI)
    for label, (x, y, err) in series.items():
        ax.errorbar(x, y, yerr=err, marker="o", markersize=4, capsize=3, label=label)
    if hline is not None:
        ax.axhline(hline[0], color="grey", linestyle="--", label=hline[1])
    if logx:
        ax.set_xscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, path)


def grouped_bars(grid: pd.DataFrame, path: Path, title: str, ylabel: str,
                 ylim: tuple[float, float] | None = (0.0, 1.0)) -> Path:
    """One group per row of `grid`, one bar per column (NaN cells are left out)."""
    rows, cols = list(grid.index), list(grid.columns)
    x = np.arange(len(rows))
    width = 0.8 / max(len(cols), 1)
    fig, ax = _pyplot().subplots(figsize=(max(6.0, 1.2 * len(rows) + 2), 4), dpi=DPI)
    for i, col in enumerate(cols):
        ax.bar(x + (i - (len(cols) - 1) / 2) * width, grid[col].to_numpy(dtype=float), width,
               label=str(col))
    ax.set_xticks(x, [str(r) for r in rows])
    ax.set(title=title, ylabel=ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path, bbox_inches="tight")  # keeps the outside legend in the picture


def log_png(save: Callable[[Path], object], artifact_dir: str, name: str) -> None:
    """Draw with `save(path)` into a temp file and log it as `<artifact_dir>/<name>.png`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.png"
        save(path)
        mlflow.log_artifact(str(path), artifact_dir)


def log_table(df: pd.DataFrame, artifact_dir: str, name: str) -> None:
    """`<artifact_dir>/<name>.csv` and `.md` on the active run."""
    with tempfile.TemporaryDirectory() as tmp:
        df.to_csv(Path(tmp) / f"{name}.csv", index=False)
        (Path(tmp) / f"{name}.md").write_text(probe_table_markdown(df))
        mlflow.log_artifacts(tmp, artifact_dir)
