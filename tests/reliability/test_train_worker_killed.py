"""Fault: a Ray Train worker process is SIGKILLed mid-training; Ray Train restarts it
(`pretrain.max_failures`) and training resumes from the last checkpoint and finishes."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from models.encoder import EncoderSpec
from pipelines.core.config import load_config
from pipelines.pretrain.train import pretrain, train_loop

pytestmark = [pytest.mark.integration, pytest.mark.reliability]
SPEC = EncoderSpec(feature_dim=16)


def _cfg(tmp_path: Path, *sets: str):
    return load_config("smoke", sets=["pretrain.batch_size=16", *sets], runtime={
        "work_dir": tmp_path, "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'm.db'}"})


def test_killed_worker_resumes_from_last_checkpoint(tmp_path: Path, train_view) -> None:
    marker = tmp_path / "killed-once"

    def dies_after_first_epoch(config: dict[str, Any]) -> None:
        if not marker.exists():
            marker.touch()
            train_loop({**config, "epochs": 1})  # epoch 0 trains and checkpoints...
            os.kill(os.getpid(), signal.SIGKILL)  # ...then the worker process is killed
        train_loop(config)

    cfg = _cfg(tmp_path, "pretrain.epochs=2", "pretrain.max_failures=1")
    res = pretrain(cfg, "autoencoder", "stack84", SPEC, train_view, 2, None, "",
                   loop=dies_after_first_epoch)
    assert marker.exists()
    ckpt = torch.load(res.checkpoint / "state.pt", weights_only=True)
    assert ckpt["epoch"] == 1  # the restarted worker trained epoch 1 only, from epoch 0's state
