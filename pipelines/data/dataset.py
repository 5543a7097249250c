"""The on-disk dataset: a folder of Parquet shards plus `manifest.json`.

Written into a temporary sibling folder and renamed into place, so a crash, a full disk or a
permission error never leaves a half dataset that looks whole, and never harms the previous
one. Every shard's sha256 is in the manifest and is checked on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
FRAME_SHAPE = (210, 160)  # full-resolution grayscale: AtariARI's probes need it
RAM_BYTES = 128
SOUND_SAMPLES = 512


class DatasetError(RuntimeError):
    """A dataset is missing, corrupted, or from an incompatible format; names the file."""


@dataclass(frozen=True)
class ShardInfo:
    name: str
    split: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    format_version: int
    name: str
    game: str
    rom: str
    rom_sha256: str
    versions: dict[str, str]
    config: dict[str, Any]
    shards: tuple[ShardInfo, ...]
    splits: dict[str, dict[str, int]]
    labels: dict[str, int]
    label_stats: list[dict[str, Any]]
    low_entropy_labels: tuple[str, ...]
    dropped_leaked_frames: int
    frame_shape: tuple[int, int] = FRAME_SHAPE
    created_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)

    @property
    def usable_labels(self) -> list[str]:
        """Annotated labels that are not low-entropy (those are reported, not used)."""
        return [n for n in self.labels if n not in self.low_entropy_labels]

    def shard_names(self, split: str | None = None) -> list[str]:
        return [s.name for s in self.shards if split is None or s.split == split]

    def digest(self) -> str:
        """Content digest of the whole dataset: the hash of its shard hashes."""
        h = hashlib.sha256()
        for s in sorted(self.shards, key=lambda s: s.name):
            h.update(s.sha256.encode())
        return h.hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        data = dict(data)
        data["shards"] = tuple(ShardInfo(**s) for s in data["shards"])
        data["low_entropy_labels"] = tuple(data["low_entropy_labels"])
        data["frame_shape"] = tuple(data["frame_shape"])
        return cls(**data)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class DatasetWriter:
    """Writes shards into a temp folder; `commit` adds the manifest and renames into place.

    Use as a context manager: leaving the block without `commit` (an exception) deletes the
    temp folder and leaves any existing dataset at `path` untouched.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.parent / f".tmp-{self.path.name}-{uuid.uuid4().hex[:8]}"
        self.tmp.mkdir()
        self.shards: list[ShardInfo] = []
        self._committed = False

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def write_shard(self, table: pa.Table, split: str) -> ShardInfo:
        name = f"{split}-{sum(s.split == split for s in self.shards):05d}.parquet"
        target = self.tmp / name
        # zstd: 210x160 game frames are mostly background and shrink by well over 10x.
        pq.write_table(table, target, compression="zstd", use_dictionary=False)
        info = ShardInfo(name=name, split=split, rows=table.num_rows, sha256=sha256_file(target))
        self.shards.append(info)
        return info

    def commit(self, manifest: Manifest) -> Manifest:
        manifest_path = self.tmp / MANIFEST
        manifest_path.write_text(manifest.to_json())
        with open(manifest_path, "rb") as f:
            os.fsync(f.fileno())
        backup = None
        if self.path.exists():
            backup = self.path.parent / f".old-{self.path.name}-{uuid.uuid4().hex[:8]}"
            os.replace(self.path, backup)
        try:
            os.replace(self.tmp, self.path)
        except OSError:
            if backup is not None:
                os.replace(backup, self.path)  # put the previous dataset back
            raise
        self._committed = True
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
        return manifest


def load_manifest(path: Path) -> Manifest:
    """Read and check `manifest.json`; DatasetError for missing, unreadable or newer formats."""
    mpath = Path(path) / MANIFEST
    if not mpath.is_file():
        raise DatasetError(f"no dataset at {path}: {MANIFEST} is missing")
    try:
        data = json.loads(mpath.read_text())
        version = int(data["format_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{mpath} is not a valid manifest: {exc}") from None
    if version > FORMAT_VERSION:
        raise DatasetError(
            f"{mpath} has format version {version}; this arcadelab reads up to "
            f"{FORMAT_VERSION}: upgrade arcadelab"
        )
    try:
        return Manifest.from_dict(data)
    except (TypeError, KeyError) as exc:
        raise DatasetError(f"{mpath} is not a valid manifest: {exc}") from None


def verify(path: Path, expected: Manifest | None = None) -> Manifest:
    """Check that every shard exists and matches its sha256 and, given `expected` (e.g. the
    manifest a cached result holds), that the manifest still lists the same shards;
    DatasetError names the file."""
    manifest = load_manifest(path)
    for shard in manifest.shards:
        file = Path(path) / shard.name
        if not file.is_file():
            raise DatasetError(f"shard missing: {file}")
        if sha256_file(file) != shard.sha256:
            raise DatasetError(f"shard corrupted (sha256 mismatch): {file}")
    if expected is not None and manifest.shards != expected.shards:
        # Intact, but another dataset than the one the caller was told about.
        raise DatasetError(f"{Path(path) / MANIFEST} lists other shards than expected "
                           f"(digest {manifest.digest()}, expected {expected.digest()})")
    return manifest


def shard_paths(path: Path, split: str | None = None) -> list[str]:
    """Absolute shard paths of a split, e.g. for `ray.data.read_parquet`."""
    manifest = load_manifest(path)
    return [str(Path(path).resolve() / n) for n in manifest.shard_names(split)]


def read_split(path: Path, split: str, columns: list[str] | None = None) -> pa.Table:
    """Verified rows of one split as an Arrow table."""
    manifest = verify(path)
    names = manifest.shard_names(split)
    if not names:
        raise DatasetError(f"dataset {path} has no rows in split {split!r}")
    return pa.concat_tables(pq.read_table(Path(path) / n, columns=columns) for n in names)


