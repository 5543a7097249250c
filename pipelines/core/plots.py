"""Pictures for MLflow: frame grids with labels drawn on them, learning curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

BG = (20, 20, 20)


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


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: Path,
    title: str,
    xlabel: str,
    ylabel: str,
) -> Path:
    """Save one chart with a line per series {label: (x, y)} as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for label, (x, y) in series.items():
        ax.plot(x, y, marker="o", markersize=3, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


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
