"""Encoder pretraining on Ray Train: DDP over N workers, data from Ray Data, a checkpoint per
epoch, and `FailureConfig` so a killed worker resumes from the last checkpoint.

Each method is wrapped in an `Objective` whose `forward(batch)` returns the loss, so DDP's
gradient synchronisation (which hooks `forward`) covers every method alike.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
import ray.train
import ray.train.torch
import torch
from mlflow import MlflowClient
from mlflow.entities import Metric
from ray.train.torch import TorchTrainer
from torch import nn

from models.atc import ATC
from models.autoencoder import AutoEncoder, ConvDecoder
from models.checkpoint import load_encoder, save_encoder
from models.clip import FrameRamCLIP, RamEncoder
from models.encoder import EncoderSpec, build_encoder
from models.stdim import STDIM
from models.supervised import MultiHeadClassifier
from pipelines.core.charts import recon_grid
from pipelines.core.config import ArcadeConfig
from pipelines.core.train_progress import epoch_progress

STATE = "state.pt"


class Objective(nn.Module):
    """One pretraining method around a fresh encoder: `forward(batch) -> loss`."""

    def __init__(self, method: str, spec: EncoderSpec, num_labels: int = 0,
                 atc_momentum: float = 0.99, atc_shift: int = 0):
        super().__init__()
        self.method = method
        self.encoder = build_encoder(spec)
        d = spec.feature_dim
        if method == "autoencoder":
            self.model: nn.Module = AutoEncoder(
                self.encoder, ConvDecoder(d, spec.in_channels, spec.height, spec.width))
        elif method == "atc":
            self.model = ATC(self.encoder, d, momentum=atc_momentum, pad=atc_shift)
        elif method == "stdim":
            self.model = STDIM(self.encoder, d)
        elif method == "clip":
            self.model = FrameRamCLIP(self.encoder, d, RamEncoder(feature_dim=d), d)
        elif method == "supervised":
            if num_labels < 1:
                raise ValueError("the supervised baseline needs at least one label")
            self.model = MultiHeadClassifier(self.encoder, d, num_labels)
        else:
            raise ValueError(f"unknown pretraining method {method!r}")

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        m = self.model
        if self.method == "autoencoder":
            return m.loss(batch["obs"])
        if self.method in ("atc", "stdim"):
            return m.loss(batch["obs"], batch["obs_next"])
        if self.method == "clip":
            return m.loss(batch["obs"], batch["ram"])
        return m.loss(batch["obs"], batch["labels"])

    def trainable(self) -> list[nn.Parameter]:
        params = (self.model.online_parameters() if self.method in ("atc", "stdim")
                  else self.parameters())
        return [p for p in params if p.requires_grad]

    def after_step(self) -> None:
        if self.method == "atc":
            self.model.update_target()


@dataclass(frozen=True)
class PretrainResult:
    method: str
    view: str
    objective: Objective
    spec: EncoderSpec
    final_loss: float
    frames_per_s: float
    train_time_s: float
    checkpoint: Path
    epoch: int = 0  # the epoch whose weights were kept (the lowest validation loss, if any)
    val_loss: float = math.nan  # that epoch's validation loss
    val_history: tuple[float, ...] = ()  # the validation loss of every epoch run


def _finite_or_nan(value: object) -> float:
    """A validation loss to report: never the inf that stands for 'no finite loss yet'."""
    x = float(value) if value is not None else math.nan
    return x if math.isfinite(x) else math.nan


def _unwrap(model: nn.Module) -> Objective:
    return model.module if hasattr(model, "module") else model


def _validation_loss(model: nn.Module, shard: Any, batch_size: int, device: torch.device
                     ) -> float:
    """Mean loss over this worker's validation shard, averaged across workers (every rank
    must take the same early-stopping decision, or DDP would wait forever)."""
    model.eval()
    total, seen = 0.0, 0
    with torch.no_grad():
        for batch in shard.iter_torch_batches(batch_size=batch_size, device=device,
                                              drop_last=False):
            n = len(batch["obs"])
            if n < 2:  # in-batch negatives need two rows
                continue
            total, seen = total + _unwrap(model)(batch).item() * n, seen + n
    model.train()
    # On the training device: NCCL (GPU workers) reduces only CUDA tensors.
    sums = torch.tensor([total, float(seen)], dtype=torch.float64, device=device)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(sums)
    return float(sums[0] / sums[1]) if sums[1] > 0 else math.nan  # nan: nothing to score


def train_loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker: an epoch over the train shard, the validation loss,
    a checkpoint; stops after `patience` epochs without a lower validation loss."""
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.manual_seed(config["seed"] + rank)
    spec = EncoderSpec(**config["spec"])
    objective = Objective(config["method"], spec, config["num_labels"], config["atc_momentum"],
                          config["atc_shift"])
    optimizer = torch.optim.Adam(objective.trainable(), lr=config["lr"])
    start_epoch, best, stale, history = 0, math.inf, 0, []
    if (ckpt := ray.train.get_checkpoint()) is not None:  # a restart after a failure
        with ckpt.as_directory() as d:
            state = torch.load(Path(d) / STATE, map_location="cpu", weights_only=True)
        objective.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = int(state["epoch"]) + 1
        best, stale = float(state.get("best_val", math.inf)), int(state.get("stale", 0))
        history = [float(v) for v in state.get("val_history", [])]
    model = ray.train.torch.prepare_model(objective)
    device = ray.train.torch.get_device()
    shard = ray.train.get_dataset_shard("train")
    val = ray.train.get_dataset_shard("val") if config["validate"] else None
    client = MlflowClient(config["tracking_uri"]) if rank == 0 and config["run_id"] else None
    prefix = config["metric_prefix"]
    for epoch in range(start_epoch, config["epochs"]):
        start, seen, total = time.perf_counter(), 0, 0.0
        model.train()
        for batch in shard.iter_torch_batches(batch_size=config["batch_size"], device=device,
                                              drop_last=True, local_shuffle_buffer_size=1024):
            loss = model(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            _unwrap(model).after_step()
            n = len(batch["obs"])
            seen, total = seen + n, total + loss.item() * n
        elapsed = time.perf_counter() - start
        metrics = {"epoch": epoch, "loss": total / max(seen, 1),
                   "frames_per_s": seen * world / max(elapsed, 1e-9), "epoch_time_s": elapsed}
        if val is not None:
            val_loss = _validation_loss(model, val, config["batch_size"], device)
            history.append(val_loss)
            if val_loss < best:
                best, stale = val_loss, 0
            elif math.isfinite(best):  # no finite score yet (an empty split): nothing to stop on
                stale += 1
            # A diverged (non-finite) epoch must never rank as the best checkpoint.
            metrics["val_loss"] = val_loss if math.isfinite(val_loss) else math.inf
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = None
            if rank == 0:
                inner = _unwrap(model)
                torch.save({"model": inner.state_dict(), "optimizer": optimizer.state_dict(),
                            "epoch": epoch, "best_val": best, "stale": stale,
                            "val_history": history},
                           Path(tmp) / STATE)
                save_encoder(inner.encoder, spec, Path(tmp) / "encoder")
                checkpoint = ray.train.Checkpoint.from_directory(tmp)
            ray.train.report(metrics, checkpoint=checkpoint)
        if client is not None:
            now = int(time.time() * 1000)
            client.log_batch(config["run_id"], metrics=[
                Metric(f"{prefix}/{k}", float(v), now, epoch) for k, v in metrics.items()
                if k != "epoch" and math.isfinite(float(v))])
            if config["method"] == "autoencoder" and config["preview"] is not None:
                _log_reconstructions(client, config, _unwrap(model), epoch, device)
        if stale >= config["patience"]:
            break


def _log_reconstructions(client: MlflowClient, config: dict[str, Any], objective: Objective,
                         epoch: int, device: torch.device) -> None:
    """Held-out frames beside their reconstructions, one PNG per epoch."""
    preview = torch.as_tensor(config["preview"], device=device)
    objective.eval()
    with torch.no_grad():
        recon = objective.model(preview).cpu().numpy()
    objective.train()
    grid = recon_grid(config["preview"], recon)
    client.log_image(config["run_id"], grid,
                     f"{config['metric_prefix']}/reconstructions/epoch_{epoch:03d}.png")


def pretrain(cfg: ArcadeConfig, method: str, view: str, spec: EncoderSpec,
             train: ray.data.Dataset, num_labels: int, run_id: str | None, tracking_uri: str,
             preview: np.ndarray | None = None,
             loop: Callable[[dict[str, Any]], None] = train_loop,
             val: ray.data.Dataset | None = None) -> PretrainResult:
    """Train one method on one view with Ray Train; returns the trained objective.

    With `val`, the objective's loss on it is measured after every epoch, training stops after
    `pretrain.patience` epochs without improvement, and the encoder returned is the epoch with
    the lowest validation loss (Ray Train keeps that checkpoint). `loop` is the per-worker
    function (tests wrap `train_loop` to inject faults)."""
    p = cfg.pretrain
    name = f"pretrain-{view}-{method}-{(run_id or 'norun')[:8]}"
    storage = (cfg.runtime.work_dir / "ray_results").resolve()
    with epoch_progress(p.epochs, f"pretrain {view}/{method}") as callbacks:
        trainer = TorchTrainer(
            loop,
            train_loop_config={
                "method": method, "spec": spec.__dict__, "num_labels": num_labels,
                "atc_momentum": p.atc_momentum, "atc_shift": p.atc_shift, "lr": p.lr,
                "epochs": p.epochs,
                "batch_size": p.batch_size, "seed": cfg.seed, "run_id": run_id,
                "tracking_uri": tracking_uri, "metric_prefix": f"pretrain/{view}/{method}",
                "preview": preview, "validate": val is not None, "patience": p.patience,
            },
            scaling_config=ray.train.ScalingConfig(num_workers=p.num_workers, use_gpu=p.use_gpu),
            run_config=ray.train.RunConfig(
                name=name, storage_path=str(storage),
                failure_config=ray.train.FailureConfig(max_failures=p.max_failures),
                # Ray keeps the best-scoring checkpoints and, for restarts, always the latest.
                checkpoint_config=ray.train.CheckpointConfig(
                    num_to_keep=2, checkpoint_score_attribute="val_loss" if val else None,
                    checkpoint_score_order="min"),
                callbacks=callbacks,  # each epoch's report, shown on the driver
            ),
            datasets={"train": train} | ({"val": val} if val is not None else {}),
        )
        start = time.perf_counter()
        result = trainer.fit()
        elapsed = time.perf_counter() - start
    chosen = result.checkpoint
    if val is not None and result.checkpoint is not None:
        with result.checkpoint.as_directory() as d:  # the last epoch holds the whole history
            last = torch.load(Path(d) / STATE, map_location="cpu", weights_only=True)
        history = tuple(float(v) for v in last.get("val_history", []))
        if any(math.isfinite(v) for v in history):
            chosen = result.get_best_checkpoint("val_loss", "min")
    else:
        history = ()
    if chosen is None:
        raise RuntimeError(f"pretraining {method} on {view} produced no checkpoint")
    objective = Objective(method, spec, num_labels, p.atc_momentum, p.atc_shift)
    with chosen.as_directory() as d:
        state = torch.load(Path(d) / STATE, map_location="cpu", weights_only=True)
        objective.load_state_dict(state["model"])
        load_encoder(Path(d) / "encoder", expected=spec)  # the saved encoder must load cleanly
    objective.eval()
    metrics = result.metrics or {}
    return PretrainResult(method, view, objective, spec, float(metrics.get("loss", math.nan)),
                          float(metrics.get("frames_per_s", math.nan)), elapsed,
                          Path(chosen.path), int(state["epoch"]),
                          _finite_or_nan(state.get("best_val")) if val is not None else math.nan,
                          history)
