"""The three modalities of a stored dataset as in-memory arrays, for the multimodal,
multi-task, generative and few-shot stages.

Ray Data reads the Parquet shards and decodes them in parallel (frames resized to the policy's
84x84 with INTER_AREA, as `pipelines/data/views.py` does); rows come back sorted by episode and
step, so a frame stack or a temporal window is an index computation. A stage names the
columns it needs, and a dataset that lacks one is refused before any compute with a
`ModalityError` that names the column and the stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import ray

from pipelines.data.dataset import (
    FRAME_SHAPE,
    RAM_BYTES,
    SOUND_SAMPLES,
    DatasetError,
    Manifest,
    shard_paths,
    verify,
)
from pipelines.data.splits import SPLITS

SMALL = 84  # the policy's frame size; stack84's channels
STACK = 4
WHY = {"frame": "the screen", "ram": "the console state", "sound": "the audio"}


class ModalityError(DatasetError):
    """A dataset lacks a modality (column) that a stage needs."""


@dataclass(frozen=True)
class ModalSplit:
    """One split, rows sorted by (episode, step)."""

    frames: np.ndarray  # (N, 84, 84) uint8: each step's frame at the policy's size
    ram: np.ndarray  # (N, 128) uint8
    sound: np.ndarray | None  # (N, 512) uint8, None when not loaded
    labels: np.ndarray  # (N, L) int64 RAM labels, in `label_names` order
    label_names: tuple[str, ...]
    episode: np.ndarray  # (N,) int episode code, increasing
    step: np.ndarray  # (N,) int step within the episode
    reward: np.ndarray  # (N,) float32
    full: np.ndarray | None = None  # (N, 210, 160) uint8 when asked for (AtariARI's view)

    def __len__(self) -> int:
        return len(self.frames)

    def label(self, name: str) -> np.ndarray:
        return self.labels[:, self.label_names.index(name)]

    def stack_index(self, channels: int = STACK) -> np.ndarray:
        """(N, channels) rows of the frames t-channels+1..t of each step's own episode (the
        first frame repeats at an episode start, as the stack84 view does)."""
        return stack_index(self.episode, channels)

    def subset(self, idx: np.ndarray) -> ModalSplit:
        """Rows `idx` (kept in order; stacks of a subset are no longer meaningful)."""
        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]
        return replace(self, frames=self.frames[idx], ram=self.ram[idx], sound=take(self.sound),
                       labels=self.labels[idx], episode=self.episode[idx], step=self.step[idx],
                       reward=self.reward[idx], full=take(self.full))


def episode_starts(episode: np.ndarray) -> np.ndarray:
    """(N,) sorted episode codes -> (N,) index of each row's episode's first row."""
    episode = np.asarray(episode)
    new = np.r_[True, episode[1:] != episode[:-1]]
    return np.maximum.accumulate(np.where(new, np.arange(len(episode)), 0))


def stack_index(episode: np.ndarray, channels: int = STACK) -> np.ndarray:
    """(N,) sorted episode codes -> (N, channels) indices of t-channels+1..t, clamped to the
    episode's first row."""
    n = len(episode)
    idx = np.arange(n)[:, None] + np.arange(1 - channels, 1)[None, :]
    return np.maximum(idx, episode_starts(episode)[:, None])


def check_columns(path: Path, manifest: Manifest, need: Sequence[str], stage: str) -> None:
    """ModalityError unless every shard has the columns `need` (e.g. 'ram', 'sound')."""
    for shard in manifest.shards:
        names = set(pq.read_schema(Path(path) / shard.name).names)
        for column in need:
            if column not in names:
                raise ModalityError(
                    f"dataset {path} has no {column!r} column (shard {shard.name}), but the "
                    f"{stage} stage needs {WHY.get(column, column)}; collect a dataset that "
                    f"has it: arcadelab run data --set data.reuse=false")


def _decode(batch: dict[str, np.ndarray], keep_full: bool) -> dict[str, np.ndarray]:
    """Ray Data batch body: fixed-size binary columns -> uint8 arrays, frames resized."""
    n = len(batch["step"])
    full = np.frombuffer(b"".join(batch["frame"]), np.uint8).reshape(n, *FRAME_SHAPE)
    out = {k: v for k, v in batch.items() if k not in ("frame", "ram", "sound")}
    out["frames"] = np.stack([cv2.resize(f, (SMALL, SMALL), interpolation=cv2.INTER_AREA)
                              for f in full]) if n else np.zeros((0, SMALL, SMALL), np.uint8)
    out["ram"] = np.frombuffer(b"".join(batch["ram"]), np.uint8).reshape(n, RAM_BYTES)
    if "sound" in batch:
        out["sound"] = np.frombuffer(b"".join(batch["sound"]), np.uint8).reshape(
            n, SOUND_SAMPLES)
    if keep_full:
        out["full"] = full
    return out


def _read_all(path: Path, labels: Sequence[str], sound: bool, keep_full: bool
              ) -> dict[str, np.ndarray]:
    """Every shard in one Ray Data pass (one executor start rather than one per split)."""
    columns = ["split", "episode_id", "step", "frame", "ram", "reward",
               *(["sound"] if sound else []), *(f"label_{n}" for n in labels)]
    ds = ray.data.read_parquet(shard_paths(path), columns=columns).map_batches(
        _decode, batch_format="numpy", fn_kwargs={"keep_full": keep_full})
    parts: dict[str, list[np.ndarray]] = {}
    for batch in ds.iter_batches(batch_size=4096, batch_format="numpy"):
        for k, v in batch.items():
            parts.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in parts.items()}


def _split_of(cols: dict[str, np.ndarray], split: str, labels: Sequence[str], sound: bool,
              keep_full: bool) -> ModalSplit:
    rows = np.flatnonzero(cols["split"].astype(str) == split)
    _, code = np.unique(cols["episode_id"][rows].astype(str), return_inverse=True)
    perm = np.lexsort((cols["step"][rows], code))  # by episode, then step
    order, code = rows[perm], code[perm]
    return ModalSplit(
        frames=cols["frames"][order],
        ram=cols["ram"][order],
        sound=cols["sound"][order] if sound else None,
        labels=(np.stack([cols[f"label_{n}"][order].astype(np.int64) for n in labels], 1)
                if labels else np.zeros((len(order), 0), np.int64)),
        label_names=tuple(labels),
        episode=code.astype(np.int64),
        step=cols["step"][order].astype(np.int64),
        reward=cols["reward"][order].astype(np.float32),
        full=cols["full"][order] if keep_full else None,
    )



def load_modalities(path: Path, stage: str, need: Sequence[str] = ("frame", "ram"),
                    labels: Sequence[str] | None = None, keep_full: bool = False
                    ) -> tuple[Manifest, dict[str, ModalSplit]]:
    """Verify the dataset, check it has the columns a stage needs, and load every split
    (`labels` None: the usable RAM labels of the manifest)."""
    manifest = verify(path)
    check_columns(path, manifest, need, stage)
    labels = manifest.usable_labels if labels is None else list(labels)
    for split in SPLITS:
        if manifest.splits[split]["rows"] == 0:
            raise DatasetError(f"dataset {path} has an empty {split} split, which the {stage} "
                               "stage needs: collect more episodes (data.num_tasks, "
                               "data.steps_per_task, data.max_episode_steps)")
    sound = "sound" in need
    cols = _read_all(path, labels, sound, keep_full)
    return manifest, {s: _split_of(cols, s, labels, sound, keep_full) for s in SPLITS}
