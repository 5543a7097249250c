"""Frozen-encoder features of every stored frame, with stable frame ids, computed once.

Active learning and the data curriculum train small classifiers on top of a frozen encoder,
so each frame is encoded once (Ray Data: one task per episode group, frames stacked with
`views.stack_frames` exactly as the encoder was trained) and the features are cached under
the work dir, keyed by the dataset's content digest and the encoder that made them.

A frame id is `<episode_id>-s<step:05d>` (e.g. `t000-e0003-s00042`): stable across runs and
machines, so labels bought in one run (or typed by a person) stay attached to their frame.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
import torch
from ray.data import DataContext

from models.encoder import EncoderSpec
from pipelines.core.config import config_digest
from pipelines.core.registry import RegistryError, encoder_or_random
from pipelines.data.dataset import DatasetError, Manifest, shard_paths, verify
from pipelines.data.labels import extract_labels
from pipelines.data.splits import SPLITS
from pipelines.data.views import stack_frames, view_shape
from pipelines.features.extract import encode, rebuild_encoder

log = logging.getLogger("arcadelab")


@dataclass(frozen=True)
class Encoder:
    """A frozen encoder and where it came from (a registry version, or a seeded random init)."""

    spec: EncoderSpec
    weights: dict[str, torch.Tensor]
    source: str  # "arcadelab-encoder@champion (v3)" or "random init (seed 0)"
    view: str

    @property
    def is_random(self) -> bool:
        return self.source.startswith("random")

    def module(self) -> torch.nn.Module:
        return rebuild_encoder(self.spec, self.weights)


def _view_of(spec: EncoderSpec) -> str:
    for view in ("stack84", "full"):
        if view_shape(view) == spec.input_shape:
            return view
    raise RegistryError(f"encoder reads {spec.input_shape}, which is no known view")


def resolve_encoder(alias: str, view: str, feature_dim: int, seed: int) -> Encoder:
    """`models:/arcadelab-encoder@<alias>`; a seeded random init for 'random' or when the
    registry has no such alias (logged loudly, and the run says so in its tags)."""
    c, h, w = view_shape(view)
    random_spec = EncoderSpec(in_channels=c, height=h, width=w, feature_dim=feature_dim)
    encoder, spec, source = encoder_or_random(alias, random_spec, seed, "active")
    return Encoder(spec, encoder.state_dict(), source, _view_of(spec))


def frame_id(episode_id: str, step: int) -> str:
    return f"{episode_id}-s{int(step):05d}"


def parse_frame_id(fid: str) -> tuple[str, int]:
    """`t000-e0003-s00042` -> ("t000-e0003", 42); ValueError for anything else."""
    episode, sep, step = fid.rpartition("-s")
    if not sep or not episode or not step.isdigit():
        raise ValueError(f"not a frame id: {fid!r} (expected <episode_id>-s<step>)")
    return episode, int(step)


@dataclass(frozen=True)
class FrameSet:
    """Frames of one split in id order: features, and the RAM that the oracle reads."""

    ids: np.ndarray  # (N,) str
    x: np.ndarray  # (N, D) float32 frozen-encoder features
    ram: np.ndarray  # (N, 128) uint8

    def __len__(self) -> int:
        return len(self.ids)

    def labels(self, table: dict[str, int], names: tuple[str, ...]) -> np.ndarray:
        """(N, L) int64 RAM labels in `names` order."""
        lab = extract_labels(self.ram, {n: table[n] for n in names})
        return np.stack([lab[n].astype(np.int64) for n in names], 1)

    def subset(self, idx: np.ndarray) -> FrameSet:
        return FrameSet(self.ids[idx], self.x[idx], self.ram[idx])


def _encode_episode(batch: dict[str, np.ndarray], view: str, spec: dict[str, Any],
                    weights: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Ray Data `map_groups` body: one episode's rows -> ids, features, RAM in step order."""
    torch.set_num_threads(1)  # one Ray CPU per task
    order = np.argsort(batch["step"], kind="stable")
    frames = np.frombuffer(b"".join(batch["frame"][order]), np.uint8).reshape(-1, 210, 160)
    obs = stack_frames(frames, view)
    x = encode(rebuild_encoder(EncoderSpec(**spec), weights), obs, batch_size=256)
    episode = str(batch["episode_id"][0])
    return {
        "id": np.array([frame_id(episode, s) for s in batch["step"][order]]),
        "x": x,
        "ram": np.frombuffer(b"".join(batch["ram"][order]), np.uint8).reshape(-1, 128),
    }


def encode_split(path: Path, split: str, encoder: Encoder) -> FrameSet:
    """Features of every frame of a split, one Ray Data task per episode, sorted by id."""
    paths = shard_paths(path, split)
    if not paths:
        raise DatasetError(f"dataset {path} has no rows in split {split!r}")
    ctx = DataContext.get_current()
    previous = ctx.shuffle_strategy
    # As in views.py: a sort shuffle with one partition per CPU beats the default hash
    # shuffle (200 partitions, aggregator actors) by ~4x on small episode counts.
    ctx.shuffle_strategy = "sort_shuffle_pull_based"
    try:
        ds = ray.data.read_parquet(paths, columns=["episode_id", "step", "frame", "ram"])
        parts = max(1, int(ray.cluster_resources().get("CPU", 1)))
        kwargs = {"view": encoder.view, "spec": encoder.spec.__dict__,
                  "weights": encoder.weights}
        ds = ds.groupby("episode_id", num_partitions=parts).map_groups(
            _encode_episode, batch_format="numpy", fn_kwargs=kwargs)
        cols: dict[str, list[np.ndarray]] = {"id": [], "x": [], "ram": []}
        for batch in ds.iter_batches(batch_size=4096, batch_format="numpy"):
            for k in cols:
                cols[k].append(batch[k])
    finally:
        ctx.shuffle_strategy = previous
    ids = np.concatenate(cols["id"]).astype(str)
    order = np.argsort(ids, kind="stable")  # ids sort by episode, then zero-padded step
    return FrameSet(ids[order], np.concatenate(cols["x"])[order],
                    np.concatenate(cols["ram"])[order])


def feature_key(manifest: Manifest, encoder: Encoder) -> str:
    return config_digest({"dataset": manifest.digest(), "encoder": encoder.source,
                          "spec": encoder.spec.__dict__, "view": encoder.view})


def load_features(path: Path, encoder: Encoder, cache_dir: Path
                  ) -> tuple[Manifest, dict[str, FrameSet]]:
    """Every split's features: from the cache when this dataset and encoder made them before,
    else encoded with Ray Data and cached (written to a temp file, then renamed)."""
    manifest = verify(path)
    for split in SPLITS:
        if manifest.splits[split]["rows"] == 0:
            raise DatasetError(f"dataset {path} has an empty {split} split: collect more "
                               "episodes (data.num_tasks, data.steps_per_task, "
                               "data.max_episode_steps)")
    file = Path(cache_dir) / f"features-{feature_key(manifest, encoder)}.npz"
    if file.is_file():
        with np.load(file, allow_pickle=False) as z:
            return manifest, {s: FrameSet(z[f"{s}_ids"], z[f"{s}_x"], z[f"{s}_ram"])
                              for s in SPLITS}
    log.info("active: encoding %d frames with %s", manifest.rows, encoder.source)
    sets = {s: encode_split(path, s, encoder) for s in SPLITS}
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{file.name}")
    arrays = {f"{s}_{k}": getattr(fs, k) for s, fs in sets.items() for k in ("ids", "x", "ram")}
    np.savez(tmp, **arrays)
    os.replace(tmp, file)
    return manifest, sets
