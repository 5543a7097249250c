"""RAM labels: which console RAM byte holds which game variable (AtariARI's annotations).

The RAM is the ground truth behind the screen, so it labels frames for probes, active learning
and multimodal stages without a human annotator.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

# AtariARI (Anand et al. 2019) RAM indices; only scalar variables. Pong's player_x/enemy_x
# (46/45) are constant, so they are left out rather than reported as zero-entropy noise.
RAM_LABELS: dict[str, dict[str, int]] = {
    "pong": {
        "player_y": 51,
        "enemy_y": 50,
        "ball_x": 49,
        "ball_y": 54,
        "player_score": 14,
        "enemy_score": 13,
    },
    "breakout": {
        "ball_x": 99,
        "ball_y": 101,
        "player_x": 72,
        "blocks_hit_count": 77,
        "score": 84,
    },
}


def labels_for(rom: str) -> dict[str, int]:
    """Label name -> RAM index for a ROM; empty where no annotation is known."""
    return dict(RAM_LABELS.get(rom, {}))


def extract_labels(ram: np.ndarray, table: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Pick the labelled bytes out of RAM rows: (N, 128) uint8 -> {name: (N,) uint8}."""
    ram = np.asarray(ram)
    if ram.ndim != 2 or ram.shape[1] != 128:
        raise ValueError(f"RAM must have shape (N, 128), got {ram.shape}")
    return {name: ram[:, idx].astype(np.uint8) for name, idx in table.items()}


def entropy_bits(values: np.ndarray) -> float:
    """Shannon entropy (bits) of the empirical distribution of `values`."""
    values = np.asarray(values)
    if values.size == 0:
        return 0.0
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum() + 0.0)


def label_statistics(
    labels: Mapping[str, np.ndarray], table: Mapping[str, int], min_entropy_bits: float
) -> pd.DataFrame:
    """One row per label: RAM index, distinct values, entropy, range, and a low-entropy flag.

    Low-entropy labels (AtariARI drops those under 0.6 bits) are reported, not silently used.
    """
    rows = []
    for name, values in labels.items():
        h = entropy_bits(values)
        rows.append(
            {
                "label": name,
                "ram_index": table[name],
                "distinct": int(np.unique(values).size),
                "entropy_bits": round(h, 4),
                "min": int(values.min()) if values.size else 0,
                "max": int(values.max()) if values.size else 0,
                "low_entropy": h < min_entropy_bits,
            }
        )
    columns = ["label", "ram_index", "distinct", "entropy_bits", "min", "max", "low_entropy"]
    return pd.DataFrame(rows, columns=columns)


# Where a labelled object is drawn on the 210x160 screen, from its RAM labels:
# pixel x = ram[x_label] + dx, pixel y = ram[y_label] + dy (measured on ale-py 0.12; Pong's
# ball is drawn at exactly these offsets, checked by tests/integration/test_frame_ram.py).
SCREEN_OFFSETS: dict[str, dict[str, tuple[str, int, str, int]]] = {
    "pong": {"ball": ("ball_x", -49, "ball_y", -14)},
}


def screen_positions(rom: str, labels: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """Pixel (x, y) of each located object given one row's labels (empty if unknown)."""
    out = {}
    for obj, (xl, dx, yl, dy) in SCREEN_OFFSETS.get(rom, {}).items():
        if xl in labels and yl in labels:
            out[obj] = (int(labels[xl]) + dx, int(labels[yl]) + dy)
    return out
