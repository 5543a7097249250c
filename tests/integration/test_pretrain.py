"""Pretraining on a real Ray Train: DDP over two workers and the encoder registry with its
aliases and clear errors (a killed worker: tests/reliability/test_train_worker_killed.py)."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow
import pytest
import torch

from models.checkpoint import EncoderCheckpointError
from models.encoder import EncoderSpec, build_encoder
from pipelines.core import registry, tracking
from pipelines.core.config import load_config
from pipelines.data.dataset import DatasetError, DatasetWriter, read_split, verify
from pipelines.pretrain.stage import run_pretrain_stage
from pipelines.pretrain.train import pretrain

pytestmark = pytest.mark.integration
SPEC = EncoderSpec(feature_dim=16)


def _cfg(tmp_path: Path, *sets: str):
    return load_config("smoke", sets=["pretrain.batch_size=16", *sets], runtime={
        "work_dir": tmp_path, "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'm.db'}"})


def test_two_worker_ddp(tmp_path: Path, train_view) -> None:
    cfg = _cfg(tmp_path, "pretrain.num_workers=2")
    res = pretrain(cfg, "atc", "stack84", SPEC, train_view, 2, None, "")
    assert res.final_loss > 0 and res.frames_per_s > 0
    x = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    assert res.objective.encoder(x).shape == (2, 16)


def test_stdim_early_stops_on_validation_and_keeps_the_best_epoch(
        tmp_path: Path, smoke_dataset, train_view) -> None:
    """ST-DIM on Ray Train with a validation split: one epoch without improvement stops it,
    and the weights kept are those of the epoch with the lowest validation loss."""
    from pipelines.data.views import view_dataset

    _, data = smoke_dataset
    val = view_dataset(data.path, "val", "stack84", ["ball_x", "player_y"], temporal_k=2)
    cfg = _cfg(tmp_path, "pretrain.epochs=6", "pretrain.patience=1", "pretrain.lr=0.05")
    res = pretrain(cfg, "stdim", "stack84", SPEC, train_view, 2, None, "", val=val)
    history = res.val_history
    assert history and all(math.isfinite(v) for v in history)
    best = min(range(len(history)), key=history.__getitem__)
    assert res.epoch == best and res.val_loss == history[best]
    # It ran until `patience` (1) epochs without a lower loss, or to the budget.
    assert len(history) == min(6, best + 2)
    state = torch.load(res.checkpoint / "state.pt", weights_only=True)
    assert state["epoch"] == best
    # The returned encoder is that checkpoint's, not the last epoch's.
    torch.testing.assert_close(res.objective.state_dict(), state["model"])


def test_registry_aliases_and_errors(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    enc = build_encoder(SPEC)
    with tracking.stage_run(cfg, "pretrain"):
        version = registry.log_encoder(enc, SPEC, "encoder", {"arcadelab.dataset": "d1"})
    registry.set_alias("atc", version)
    loaded, spec, v = registry.load_registered_encoder("atc", expected=SPEC)
    assert v == version and spec == SPEC
    x = torch.randint(0, 256, (1, 4, 84, 84), dtype=torch.uint8)
    torch.testing.assert_close(loaded(x), enc(x))
    assert registry.resolve("atc")[1]["arcadelab.dataset"] == "d1"
    pyfunc = mlflow.pyfunc.load_model("models:/arcadelab-encoder@atc")
    assert pyfunc.predict(x.numpy()).shape == (1, 16)
    with pytest.raises(registry.RegistryError,
                       match=r"nothing registered as .*arcadelab-encoder@nope"):
        registry.load_registered_encoder("nope")
    with pytest.raises(EncoderCheckpointError, match="expected input"):
        registry.load_registered_encoder("atc", expected=EncoderSpec(in_channels=1, height=210,
                                                                     width=160, feature_dim=16))

    # The shared loader of the downstream stages: the registered one, else a seeded random init.
    fallback = EncoderSpec(feature_dim=8)
    got, got_spec, source = registry.encoder_or_random("atc", fallback, 0, "test")
    assert got_spec == SPEC and source == f"arcadelab-encoder@atc (v{version})"
    torch.testing.assert_close(got(x), enc(x))
    for alias in ("nope", registry.RANDOM):
        a, a_spec, a_source = registry.encoder_or_random(alias, fallback, 3, "test")
        b, _, _ = registry.encoder_or_random(alias, fallback, 3, "test")
        assert a_spec == fallback and a_source == "random init (seed 3)"
        torch.testing.assert_close(a(x), b(x))  # the seed fixes the init


def test_empty_split_is_refused(tmp_path: Path, smoke_dataset) -> None:
    _, data = smoke_dataset
    m = verify(data.path)
    path = tmp_path / "no-val"
    with DatasetWriter(path) as w:
        for split in ("train", "test"):
            w.write_shard(read_split(data.path, split), split)
        w.commit(type(m)(**{**m.__dict__, "shards": tuple(w.shards),
                            "splits": {**m.splits, "val": {"rows": 0, "episodes": 0}}}))
    cfg = _cfg(tmp_path)
    with tracking.stage_run(cfg, "pretrain"), pytest.raises(DatasetError, match="empty val split"):
        run_pretrain_stage(cfg, path, {})
