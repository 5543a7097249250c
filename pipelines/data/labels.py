"""RAM labels: which console RAM byte holds which game variable (AtariARI's annotations).

The RAM is the ground truth behind the screen, so it labels frames for probes, active learning
and multimodal stages without a human annotator. The annotations are data, copied faithfully
from AtariARI (Anand et al. 2019) into `atariari_labels.json`, which names its source; this
module only reads them, applies the documented exclusions below and flattens the lists
into one label per byte, as AtariARI does before probing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

_DATA_FILE = "atariari_labels.json"

# Source labels we deliberately leave out of the scalar tables, with the reason. Kept here, not
# edited out of the JSON, so the data stays a faithful copy of AtariARI's file.
EXCLUDED_LABELS: dict[str, dict[str, str]] = {
    # Pong's paddles only move vertically: these bytes are constant, so they would only show
    # up as zero-entropy noise in every label report.
    "pong": {
        "player_x": "constant: Pong's paddles never move horizontally",
        "enemy_x": "constant: Pong's paddles never move horizontally",
    },
}


def _load() -> dict[str, Any]:
    # importlib.resources, so an installed wheel reads the file shipped as package data.
    text = resources.files("pipelines.data").joinpath(_DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


_DATA = _load()

# Where the annotations come from (paper, repository, file, commit, license).
ATARIARI_SOURCE: dict[str, str] = dict(_DATA["source"])

# ROM id -> label name -> RAM indices: AtariARI's multi-byte labels (lists and ranges in its
# file, e.g. Freeway's enemy_car_x, one byte per car; Breakout's block bitmap), kept whole.
MULTI_BYTE_LABELS: dict[str, dict[str, list[int]]] = {
    rom: {name: [int(i) for i in idxs] for name, idxs in game["multi"].items()}
    for rom, game in _DATA["games"].items()
}


def flatten_lists(multi: Mapping[str, list[int]]) -> dict[str, int]:
    """One scalar label per byte of each list, named as AtariARI names them when it flattens
    its own table for probing: `enemy_car_x: [108, 109, ...]` -> `enemy_car_x_0: 108,
    enemy_car_x_1: 109, ...` (a per-object list becomes a label per object)."""
    return {f"{name}_{i}": int(idx) for name, idxs in multi.items()
            for i, idx in enumerate(idxs)}


# ROM id (as ale-py names ROMs) -> label name -> RAM index: AtariARI's single-byte labels minus
# EXCLUDED_LABELS, then its lists flattened (`flatten_lists`), as AtariARI's probes see them.
# Without the lists Freeway has 2 labels, and a random chicken never scores (issue 18).
RAM_LABELS: dict[str, dict[str, int]] = {
    rom: {
        **{name: int(idx) for name, idx in game["labels"].items()
           if name not in EXCLUDED_LABELS.get(rom, {})},
        **flatten_lists(MULTI_BYTE_LABELS[rom]),
    }
    for rom, game in _DATA["games"].items()
}


def annotated_games() -> tuple[str, ...]:
    """ROM ids (ale-py's names, e.g. `ms_pacman`) that AtariARI annotates, sorted."""
    return tuple(sorted(RAM_LABELS))


def labels_for(rom: str) -> dict[str, int]:
    """Label name -> RAM index of a ROM's labels, one byte each (its single-byte labels, then
    its lists flattened into `name_0, name_1, ...`); empty where none are known."""
    return dict(RAM_LABELS.get(rom, {}))


def multi_byte_labels(rom: str) -> dict[str, list[int]]:
    """Label name -> RAM indices of a ROM's multi-byte labels, whole (`labels_for` holds them
    flattened); empty where none are known."""
    return {name: list(idxs) for name, idxs in MULTI_BYTE_LABELS.get(rom, {}).items()}


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
