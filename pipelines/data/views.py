"""The two views of a stored dataset that encoders train and are probed on, built with Ray Data.

- `stack84`: what the RL policy sees: each frame resized to 84x84 (INTER_AREA) and stacked
  with its 3 predecessors in the same episode (the first frame repeats at an episode start);
  a stack that would skip a step (a dropped duplicate frame) is left out.
- `full`: AtariARI's protocol: the full 210x160 grayscale frame alone.

Views are derived from the stored full-resolution frames, never stored twice. Rows are grouped
by episode so that stacks and temporal pairs never cross an episode boundary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import ray
from ray.data import DataContext

from pipelines.data.dataset import FRAME_SHAPE, DatasetError, load_manifest, shard_paths

VIEWS: dict[str, tuple[int, int, int]] = {"stack84": (4, 84, 84), "full": (1, *FRAME_SHAPE)}


def view_shape(view: str) -> tuple[int, int, int]:
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r} (known: {', '.join(VIEWS)})")
    return VIEWS[view]


def stack_frames(frames: np.ndarray, view: str) -> np.ndarray:
    """One episode's frames (T, 210, 160) in step order -> view observations (T, C, H, W)."""
    c, h, w = view_shape(view)
    if view == "full":
        return frames[:, None]
    small = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    idx = np.maximum(np.arange(len(frames))[:, None] + np.arange(1 - c, 1)[None, :], 0)
    return small[idx]


def complete_stacks(steps: np.ndarray, view: str) -> np.ndarray:
    """Which observations of one episode (steps in order) stack consecutive steps.

    Data prep drops val/test frames that duplicate a train frame (pipelines/data/splits.py), so a
    stack of the surviving rows could skip steps (17.5% of the laptop dataset's test stacks
    did, none of train's): such a stack is a sequence the policy never sees, and is left out.
    At an episode's start the first stored step repeats, as in `stack_frames`."""
    c = view_shape(view)[0]
    steps = np.asarray(steps, np.int64)
    if view == "full" or len(steps) == 0:
        return np.ones(len(steps), bool)
    idx = np.maximum(np.arange(len(steps))[:, None] + np.arange(1 - c, 1)[None, :], 0)
    want = np.maximum(steps[:, None] + np.arange(1 - c, 1)[None, :], steps[0])
    return (steps[idx] == want).all(axis=1)


def temporal_partner(num_steps: int, k: int) -> np.ndarray:
    """Index of the positive for each step: t+k, clamped to the episode's last step."""
    return np.minimum(np.arange(num_steps) + k, num_steps - 1)


def episode_rows(batch: dict[str, np.ndarray], view: str, labels: list[str],
                 temporal_k: int | None) -> dict[str, np.ndarray]:
    """Ray Data `map_groups` body: one episode's stored rows -> training rows of a view."""
    order = np.argsort(batch["step"], kind="stable")
    frames = np.frombuffer(b"".join(batch["frame"][order]), np.uint8).reshape(-1, *FRAME_SHAPE)
    obs = stack_frames(frames, view)
    out: dict[str, np.ndarray] = {
        "obs": obs,
        "ram": np.frombuffer(b"".join(batch["ram"][order]), np.uint8).reshape(-1, 128),
        "labels": np.stack([batch[f"label_{n}"][order].astype(np.int64) for n in labels], 1)
        if labels else np.zeros((len(order), 0), np.int64),
    }
    if "frame_hash" in batch:
        out["frame_hash"] = np.asarray(batch["frame_hash"])[order]
    if temporal_k is not None:
        out["obs_next"] = obs[temporal_partner(len(order), temporal_k)]
    keep = complete_stacks(batch["step"][order], view)
    return out if keep.all() else {k: v[keep] for k, v in out.items()}


def view_dataset(path: Path, split: str, view: str, labels: list[str],
                 temporal_k: int | None = None, shuffle_seed: int | None = None,
                 frame_hashes: bool = False) -> ray.data.Dataset:
    """A materialised Ray Dataset of one split in one view: columns obs (C,H,W uint8), ram
    (128 uint8), labels (L int64), obs_next (the t+k positive) when `temporal_k` is set, and
    frame_hash with `frame_hashes` (a string column: not for torch loaders).

    Rows come grouped by episode; with `shuffle_seed` they are shuffled across the whole split
    (a training loader's local buffer alone would fill each batch from one stretch of one
    episode: near-identical frames, and near-identical in-batch negatives). Materialised so
    that Ray Train workers iterate it without needing CPUs for new tasks."""
    view_shape(view)
    if not load_manifest(path).shard_names(split):
        raise DatasetError(f"dataset {path} has no rows in split {split!r}")
    columns = ["episode_id", "step", "frame", "ram", *(f"label_{n}" for n in labels),
               *(["frame_hash"] if frame_hashes else [])]
    fn_kwargs: dict[str, Any] = {"view": view, "labels": labels, "temporal_k": temporal_k}
    ctx = DataContext.get_current()
    previous = ctx.shuffle_strategy
    # Episodes are few and small: a sort shuffle into one partition per CPU takes ~2 s where
    # the default hash shuffle (200 partitions, aggregator actors) takes ~8 s on 2 cores.
    ctx.shuffle_strategy = "sort_shuffle_pull_based"
    try:
        ds = ray.data.read_parquet(shard_paths(path, split), columns=columns)
        partitions = max(1, int(ray.cluster_resources().get("CPU", 1)))
        ds = (ds.groupby("episode_id", num_partitions=partitions)
              .map_groups(episode_rows, batch_format="numpy", fn_kwargs=fn_kwargs))
        if shuffle_seed is not None:
            ds = ds.random_shuffle(seed=shuffle_seed)
        return ds.materialize()
    finally:
        ctx.shuffle_strategy = previous
