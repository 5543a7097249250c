"""Episode-level train/val/test splits, with test frames that also occur in train dropped.

Splitting by episode (not by frame) keeps near-identical consecutive frames on one side; the
extra duplicate filter follows AtariARI, whose test set excludes frames seen in training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "val", "test")


def split_counts(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """Episodes per split: largest-remainder rounding, and every split with a positive fraction
    gets at least one episode when there are enough episodes to go round."""
    raw = np.asarray(fractions, dtype=float) * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    wanted = [i for i, f in enumerate(fractions) if f > 0]
    if n >= len(wanted):
        for i in wanted:
            if counts[i] == 0:
                donor = int(np.argmax(counts))
                counts[donor] -= 1
                counts[i] += 1
    return int(counts[0]), int(counts[1]), int(counts[2])


def assign_episode_splits(
    episode_ids: Sequence[str], fractions: Sequence[float], seed: int
) -> dict[str, str]:
    """Map each distinct episode id to 'train', 'val' or 'test', deterministically in `seed`."""
    unique = sorted(set(episode_ids))
    order = np.random.default_rng(seed).permutation(len(unique))
    counts = split_counts(len(unique), fractions)
    bounds = np.cumsum(counts)
    out: dict[str, str] = {}
    for rank, idx in enumerate(order):
        out[unique[idx]] = SPLITS[int(np.searchsorted(bounds, rank, side="right"))]
    return out


def leaked_mask(splits: Sequence[str], frame_hashes: Sequence[str]) -> np.ndarray:
    """True for val/test rows whose frame also occurs in train (to be dropped)."""
    splits = np.asarray(splits)
    hashes = np.asarray(frame_hashes)
    train = set(hashes[splits == "train"].tolist())
    held_out = splits != "train"
    return held_out & np.fromiter((h in train for h in hashes), bool, len(hashes))
