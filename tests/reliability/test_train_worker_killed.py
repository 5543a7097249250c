"""Fault: a Ray Train worker process is SIGKILLed mid-training; Ray Train restarts it
(`pretrain.max_failures`) and training resumes from the last checkpoint and finishes."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import ray.train
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
            report = ray.train.report

            def report_then_die(*args: Any, **kwargs: Any) -> None:
                report(*args, **kwargs)  # epoch 0 trains and checkpoints...
                os.kill(os.getpid(), signal.SIGKILL)  # ...then the worker process is killed

            ray.train.report = report_then_die
        train_loop(config)

    cfg = _cfg(tmp_path, "pretrain.epochs=2", "pretrain.max_failures=1")
    res = pretrain(cfg, "autoencoder", "stack84", SPEC, train_view, 2, None, "",
                   loop=dies_after_first_epoch)
    assert marker.exists()
    ckpt = torch.load(res.checkpoint / "state.pt", weights_only=True)
    assert ckpt["epoch"] == 1  # the restarted worker trained epoch 1 only, from epoch 0's state


def test_a_restart_goes_on_with_the_method_it_had_reached(tmp_path: Path, train_view) -> None:
    """Several methods in one Ray Train run: killed during the second method, the restarted
    worker keeps the first method's result and trains only the second's remaining epoch."""
    from pipelines.pretrain.train import pretrain_methods

    marker = tmp_path / "killed-once"

    def dies_in_the_second_method(config: dict[str, Any]) -> None:
        if not marker.exists():
            marker.touch()
            report = ray.train.report

            def report_then_die(metrics: dict[str, Any], **kwargs: Any) -> None:
                report(metrics, **kwargs)
                if metrics["method_index"] == 1:  # clip's epoch 0 is checkpointed
                    os.kill(os.getpid(), signal.SIGKILL)

            ray.train.report = report_then_die
        train_loop(config)

    cfg = _cfg(tmp_path, "pretrain.epochs=2", "pretrain.max_failures=1")
    res = pretrain_methods(cfg, ["autoencoder", "clip"], "stack84", SPEC, train_view, 2, {}, "",
                           loop=dies_in_the_second_method)
    assert marker.exists()
    for method in ("autoencoder", "clip"):
        kept = torch.load(res[method].checkpoint / "state.pt", weights_only=True)
        assert kept["epoch"] == 1, method  # both trained their 2 epochs, none repeated
    x = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    assert res["clip"].objective.encoder(x).shape == (2, 16)
