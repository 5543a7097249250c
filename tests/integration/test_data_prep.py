"""The data prep stage on a real local Ray, logging to MLflow on a temporary SQLite file."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from pipelines.core import tracking
from pipelines.data.dataset import DatasetError, read_split, verify
from pipelines.data.prep import prepare_data

pytestmark = pytest.mark.integration


@pytest.fixture
def prepared(ray_local: None, smoke_config):
    cfg = smoke_config()
    with tracking.stage_run(cfg, "data") as run:
        result = prepare_data(cfg)
    return cfg, result, run.info.run_id


def test_dataset_on_disk(prepared) -> None:
    cfg, result, _ = prepared
    m = verify(result.path)
    assert m.rows == result.manifest.rows > 0
    assert m.rows + m.dropped_leaked_frames == cfg.data.num_tasks * cfg.data.steps_per_task
    assert all(m.splits[s]["episodes"] >= 1 for s in ("train", "val", "test"))
    assert m.versions["ale_py"] and len(m.rom_sha256) == 64 and m.rom == "pong"
    assert set(m.low_entropy_labels) <= set(m.labels)
    assert not list(result.path.parent.glob(".tmp-*")), "temp folder left behind"
    # Splits are by episode, and held-out frames never also occur in train.
    train = read_split(result.path, "train", ["episode_id", "frame_hash"])
    test = read_split(result.path, "test", ["episode_id", "frame_hash"])
    assert not set(train.column("episode_id").to_pylist()) & set(
        test.column("episode_id").to_pylist())
    assert not set(train.column("frame_hash").to_pylist()) & set(
        test.column("frame_hash").to_pylist())
    # Three modalities of one state per row.
    shard = pq.read_table(result.path / m.shard_names("train")[0])
    assert {"frame", "ram", "sound", "action", "reward", "done"} <= set(shard.column_names)
    assert shard.schema.field("ram").type == pa.binary(128)
    assert shard.schema.field("sound").type == pa.binary(512)
    assert shard.schema.field("frame").type == pa.binary(210 * 160)


def test_corrupted_and_missing_shards_are_named(prepared) -> None:
    _, result, _ = prepared
    name = result.manifest.shard_names("train")[0]
    shard = result.path / name
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=name):
        verify(result.path)
    shard.unlink()
    with pytest.raises(DatasetError, match=f"missing.*{name}"):
        read_split(result.path, "train")


def test_logged_to_mlflow(prepared) -> None:
    cfg, result, run_id = prepared
    client = MlflowClient(tracking.tracking_uri(cfg))
    run = client.get_run(run_id)
    metrics = run.data.metrics
    assert metrics["data/rows"] == result.manifest.rows
    assert metrics["data/episodes_train"] >= 1
    assert "data/label_entropy_bits/ball_x" in metrics
    assert run.data.tags["arcadelab.stage"] == "data"
    assert run.data.tags["arcadelab.config_hash"] == cfg.hash("data")
    assert run.data.params["data.num_tasks"] == str(cfg.data.num_tasks)
    inputs = run.inputs.dataset_inputs
    assert inputs and inputs[0].dataset.name == result.manifest.name
    assert inputs[0].dataset.digest == result.manifest.digest()
    files = {a.path for a in client.list_artifacts(run_id, "data")}
    assert {"data/manifest.json", "data/label_stats.csv"} <= files
    assert any(f.endswith("-samples.png") for f in files)
    local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="config.yaml",
                                                     tracking_uri=tracking.tracking_uri(cfg)))
    assert "num_tasks" in local.read_text()


def test_sample_grid_is_an_image(prepared) -> None:
    from PIL import Image

    _, result, _ = prepared
    img = np.asarray(Image.open(result.samples_png))
    assert img.ndim == 3 and img.shape[0] > 210 and img.shape[1] >= 160
    assert (img[..., 0] > 200).any() and (img[..., 1] < 100).any()  # red crosshairs drawn
