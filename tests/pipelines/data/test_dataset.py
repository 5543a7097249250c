"""Unit tests for pipelines/data/dataset.py: atomic writes, manifests, checksums, split reads."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.data.dataset import (
    FORMAT_VERSION,
    MANIFEST,
    DatasetError,
    DatasetWriter,
    Manifest,
    ShardInfo,
    load_manifest,
    read_split,
    sha256_file,
    shard_paths,
    verify,
)


def make_manifest(shards: Sequence[ShardInfo], name: str = "unit") -> Manifest:
    """A Manifest with plausible metadata around the given shards."""
    splits: dict[str, dict[str, int]] = {}
    for s in shards:
        entry = splits.setdefault(s.split, {"rows": 0, "shards": 0})
        entry["rows"] += s.rows
        entry["shards"] += 1
    return Manifest(
        format_version=FORMAT_VERSION,
        name=name,
        game="ALE/Pong-v5",
        rom="pong",
        rom_sha256="0" * 64,
        versions={"ale_py": "0.0", "gymnasium": "0.0"},
        config={"data": {"num_tasks": 1}, "seed": 0},
        shards=tuple(shards),
        splits=splits,
        labels={"ball_x": 49},
        label_stats=[{"label": "ball_x", "entropy_bits": 1.5}],
        low_entropy_labels=("enemy_score",),
        dropped_leaked_frames=3,
        created_at="2024-01-01T00:00:00Z",
        extra={"note": "test"},
    )


def table(start: int, n: int) -> pa.Table:
    """A small table with an int, a string and a binary column."""
    ids = list(range(start, start + n))
    return pa.table(
        {
            "step": pa.array(ids, pa.int64()),
            "episode_id": pa.array([f"ep-{i // 3}" for i in ids]),
            "ram": pa.array([bytes([i % 256]) * 4 for i in ids], pa.binary()),
        }
    )


def write_dataset(path: Path, parts: dict[str, list[pa.Table]], name: str = "unit") -> Manifest:
    """Write and commit a dataset with the given tables per split."""
    with DatasetWriter(path) as writer:
        for split, tables in parts.items():
            for t in tables:
                writer.write_shard(t, split)
        return writer.commit(make_manifest(writer.shards, name))


def leftovers(parent: Path) -> list[str]:
    """Temp or backup folders the writer left next to its target."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith((".tmp-", ".old-")))


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A committed dataset with two train shards, one val shard and one test shard."""
    path = tmp_path / "ds"
    write_dataset(
        path,
        {"train": [table(0, 5), table(5, 4)], "val": [table(100, 3)], "test": [table(200, 2)]},
    )
    return path


def test_round_trip(dataset: Path) -> None:
    manifest = verify(dataset)
    assert manifest.rows == 14
    assert manifest.shard_names("train") == ["train-00000.parquet", "train-00001.parquet"]
    assert manifest.shard_names("val") == ["val-00000.parquet"]
    assert len(manifest.shard_names()) == 4
    train = read_split(dataset, "train")
    assert train.num_rows == 9
    assert train.column("step").to_pylist() == list(range(9))
    assert train.equals(pa.concat_tables([table(0, 5), table(5, 4)]))
    assert read_split(dataset, "val").equals(table(100, 3))
    assert read_split(dataset, "test").column("step").to_pylist() == [200, 201]


def test_read_split_columns(dataset: Path) -> None:
    t = read_split(dataset, "train", columns=["episode_id"])
    assert t.column_names == ["episode_id"]
    assert t.num_rows == 9


def test_shard_infos_match_files(dataset: Path) -> None:
    manifest = load_manifest(dataset)
    for shard in manifest.shards:
        assert sha256_file(dataset / shard.name) == shard.sha256
    assert [s.rows for s in manifest.shards] == [5, 4, 3, 2]
    paths = shard_paths(dataset, "train")
    assert [Path(p).name for p in paths] == manifest.shard_names("train")
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in paths)


def test_manifest_round_trip(dataset: Path) -> None:
    loaded = load_manifest(dataset)
    expected = make_manifest(loaded.shards)
    assert loaded == expected
    assert isinstance(loaded.shards[0], ShardInfo)
    assert loaded.frame_shape == (210, 160)
    assert loaded.low_entropy_labels == ("enemy_score",)
    assert Manifest.from_dict(json.loads(loaded.to_json())) == loaded


def test_manifest_digest(dataset: Path) -> None:
    m = load_manifest(dataset)
    reordered = make_manifest(tuple(reversed(m.shards)))
    assert m.digest() == reordered.digest()  # order-independent
    changed = make_manifest((*m.shards[:-1], ShardInfo("x.parquet", "test", 2, "f" * 64)))
    assert changed.digest() != m.digest()


def test_no_temp_folder_after_commit(dataset: Path) -> None:
    assert leftovers(dataset.parent) == []
    assert (dataset / MANIFEST).is_file()


def test_corrupted_shard_names_file(dataset: Path) -> None:
    shard = dataset / "train-00001.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=re.escape("train-00001.parquet")) as info:
        verify(dataset)
    assert "sha256" in str(info.value)
    with pytest.raises(DatasetError, match=re.escape("train-00001.parquet")):
        read_split(dataset, "train")


def test_missing_shard_names_file(dataset: Path) -> None:
    (dataset / "val-00000.parquet").unlink()
    with pytest.raises(DatasetError, match=re.escape("val-00000.parquet")) as info:
        verify(dataset)
    assert "missing" in str(info.value)


def test_missing_manifest(tmp_path: Path, dataset: Path) -> None:
    with pytest.raises(DatasetError, match=MANIFEST):
        load_manifest(tmp_path / "nowhere")
    (dataset / MANIFEST).unlink()
    with pytest.raises(DatasetError, match=MANIFEST):
        verify(dataset)


def test_newer_format_version(dataset: Path) -> None:
    mpath = dataset / MANIFEST
    data = json.loads(mpath.read_text())
    data["format_version"] = FORMAT_VERSION + 1
    mpath.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="upgrade") as info:
        load_manifest(dataset)
    assert str(FORMAT_VERSION + 1) in str(info.value)


@pytest.mark.parametrize("text", ["not json", "{}", '{"format_version": "x"}', "[]"])
def test_unreadable_manifest(dataset: Path, text: str) -> None:
    (dataset / MANIFEST).write_text(text)
    with pytest.raises(DatasetError, match="not a valid manifest"):
        load_manifest(dataset)


def test_manifest_missing_fields(dataset: Path) -> None:
    mpath = dataset / MANIFEST
    data = json.loads(mpath.read_text())
    del data["game"]
    mpath.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="not a valid manifest"):
        load_manifest(dataset)


def test_exception_before_commit_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "fresh"
    with pytest.raises(RuntimeError, match="boom"), DatasetWriter(path) as writer:
        writer.write_shard(table(0, 3), "train")
        assert writer.tmp.is_dir()
        raise RuntimeError("boom")
    assert not path.exists()
    assert leftovers(tmp_path) == []


def test_exception_before_commit_keeps_previous_dataset(dataset: Path) -> None:
    before = load_manifest(dataset)
    with pytest.raises(RuntimeError, match="boom"), DatasetWriter(dataset) as writer:
        writer.write_shard(table(1000, 7), "train")
        raise RuntimeError("boom")
    assert leftovers(dataset.parent) == []
    assert verify(dataset) == before
    assert read_split(dataset, "train").num_rows == 9


def test_leaving_without_commit_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "never"
    with DatasetWriter(path) as writer:
        writer.write_shard(table(0, 3), "train")
    assert not path.exists()
    assert leftovers(tmp_path) == []


def test_commit_replaces_existing(dataset: Path) -> None:
    write_dataset(dataset, {"train": [table(500, 6)], "test": [table(600, 1)]}, name="second")
    manifest = verify(dataset)
    assert manifest.name == "second"
    assert manifest.rows == 7
    assert not (dataset / "train-00001.parquet").exists()  # old files do not linger
    assert not (dataset / "val-00000.parquet").exists()
    assert read_split(dataset, "train").column("step").to_pylist() == list(range(500, 506))
    assert leftovers(dataset.parent) == []


def test_read_empty_split(dataset: Path, tmp_path: Path) -> None:
    path = tmp_path / "train_only"
    write_dataset(path, {"train": [table(0, 2)]})
    with pytest.raises(DatasetError, match="'val'"):
        read_split(path, "val")
    with pytest.raises(DatasetError, match="'nosuchsplit'"):
        read_split(dataset, "nosuchsplit")


def test_writer_creates_parent(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "ds"
    write_dataset(path, {"train": [table(0, 1)]})
    assert verify(path).rows == 1
