"""Fault: the disk fills up while a new dataset is being written over an existing one; the
previous dataset stays intact and verifiable, and no half-written folder is left behind."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from pipelines.core import tracking
from pipelines.core.config import load_config
from pipelines.data import dataset
from pipelines.data.dataset import MANIFEST, verify
from pipelines.data.prep import prepare_data

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


def test_disk_full_mid_write_keeps_the_previous_dataset(tmp_path: Path, ray_local: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = {"work_dir": tmp_path / "work", "mlflow_tracking_uri": f"sqlite:///{tmp_path}/m.db"}
    cfg = load_config("smoke", runtime=runtime)
    with tracking.stage_run(cfg, "data"):
        first = prepare_data(cfg)
    manifest_before = (first.path / MANIFEST).read_text()

    real_write = dataset.pq.write_table
    written = {"n": 0}

    def fills_the_disk(table: object, where: object, **kwargs: object) -> None:
        written["n"] += 1
        if written["n"] == 2:  # the second shard hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device", str(where))
        return real_write(table, where, **kwargs)

    monkeypatch.setattr(dataset.pq, "write_table", fills_the_disk)
    again = load_config("smoke", sets=["data.reuse=false"], runtime=runtime)
    with tracking.stage_run(again, "data"), pytest.raises(OSError, match="No space left"):
        prepare_data(again)

    assert (first.path / MANIFEST).read_text() == manifest_before
    verify(first.path)  # every shard still matches its checksum
    leftovers = [p.name for p in first.path.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []
