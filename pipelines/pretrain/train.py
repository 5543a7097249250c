"""Encoder pretraining on Ray Train: DDP over N workers, data from Ray Data, a checkpoint per
epoch, and `FailureConfig` so a killed worker resumes from the last checkpoint.

Each method is wrapped in an `Objective` whose `forward(batch)` returns the loss, so DDP's
gradient synchronisation (which hooks `forward`) covers every method alike.
"""

from __future__ import annotations

import json
import math
import shutil
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

STATE = "state.pt"  # a method's latest epoch (resume) or, under done/<method>/, its kept one
BEST = "best.pt"  # the running method's best epoch so far
PROGRESS = "progress.json"  # which method a restarted worker goes on with
SUMMARY = "summary.json"  # a finished method's figures for the driver
REPORTED = ("loss", "frames_per_s", "epoch_time_s", "val_loss")  # to MLflow, per epoch


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


def _method_state(objective: Objective, optimizer: torch.optim.Optimizer, epoch: int,
                  best: float, stale: int, history: list[float]) -> dict[str, Any]:
    return {"model": objective.state_dict(), "optimizer": optimizer.state_dict(),
            "epoch": epoch, "best_val": best, "stale": stale, "val_history": list(history)}


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def train_loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker: each method of `config["methods"]` in turn (one worker
    group and one dataset pipeline for all of them: a Ray Train start-up costs ~20 s). Per
    method: epochs over the train shard, the validation loss, a checkpoint each epoch; it stops
    after `patience` epochs without a lower validation loss and keeps its best epoch.

    Every checkpoint holds the method under way (`state.pt`, its latest epoch, to resume from;
    `best.pt`, its best epoch so far) and each finished method's kept epoch under
    `done/<method>/` (`state.pt`, `encoder/`, `summary.json`), so a restarted worker goes on
    from the method and epoch it had reached."""
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    methods: list[str] = list(config.get("methods") or [config["method"]])
    spec = EncoderSpec(**config["spec"])
    device = ray.train.torch.get_device()
    shard = ray.train.get_dataset_shard("train")
    val = ray.train.get_dataset_shard("val") if config["validate"] else None
    client = MlflowClient(config["tracking_uri"]) if rank == 0 and config["tracking_uri"] else None
    keep = Path(tempfile.mkdtemp(prefix="pretrain-done-"))  # finished methods (rank 0 writes)
    start_index, resumed, resumed_best = 0, None, None
    if (ckpt := ray.train.get_checkpoint()) is not None:  # a restart after a failure
        with ckpt.as_directory() as d:
            if (Path(d) / "done").is_dir():
                shutil.copytree(Path(d) / "done", keep, dirs_exist_ok=True)
            start_index = json.loads((Path(d) / PROGRESS).read_text())["method_index"]
            if (Path(d) / STATE).exists():
                resumed = torch.load(Path(d) / STATE, map_location="cpu", weights_only=True)
                resumed_best = torch.load(Path(d) / BEST, map_location="cpu", weights_only=True)
    for index in range(start_index, len(methods)):
        method = methods[index]
        _train_method(config, method, index, spec, device, shard, val, client, keep, rank,
                      world, resumed if index == start_index else None,
                      resumed_best if index == start_index else None)
    shutil.rmtree(keep, ignore_errors=True)


def _train_method(config: dict[str, Any], method: str, index: int, spec: EncoderSpec,
                  device: torch.device, shard: Any, val: Any, client: MlflowClient | None,
                  keep: Path, rank: int, world: int, resumed: dict[str, Any] | None,
                  resumed_best: dict[str, Any] | None) -> None:
    torch.manual_seed(config["seed"] + rank)
    objective = Objective(method, spec, config["num_labels"], config["atc_momentum"],
                          config["atc_shift"])
    optimizer = torch.optim.Adam(objective.trainable(), lr=config["lr"])
    start_epoch, best, stale, history = 0, math.inf, 0, []
    best_state: dict[str, Any] | None = None
    if resumed is not None:
        objective.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        start_epoch = int(resumed["epoch"]) + 1
        best, stale = float(resumed.get("best_val", math.inf)), int(resumed.get("stale", 0))
        history = [float(v) for v in resumed.get("val_history", [])]
        best_state = resumed_best
    model = ray.train.torch.prepare_model(objective)
    run_id = (config.get("run_ids") or {}).get(method) or config.get("run_id")
    prefix = config["metric_prefix"].format(method=method)
    started, epochs = time.perf_counter(), config["epochs"]
    for epoch in range(start_epoch, epochs):
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
        metrics: dict[str, Any] = {
            "epoch": epoch, "loss": total / max(seen, 1),
            "frames_per_s": seen * world / max(elapsed, 1e-9), "epoch_time_s": elapsed,
            "method_index": index}
        inner = _unwrap(model)
        improved = val is None
        if val is not None:
            val_loss = _validation_loss(model, val, config["batch_size"], device)
            history.append(val_loss)
            if val_loss < best:
                best, stale, improved = val_loss, 0, True
            elif math.isfinite(best):  # no finite score yet (an empty split): nothing to stop on
                stale += 1
            # A diverged (non-finite) epoch must never rank as the best checkpoint.
            metrics["val_loss"] = val_loss if math.isfinite(val_loss) else math.inf
        last = stale >= config["patience"] or epoch == epochs - 1
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = None
            if rank == 0:  # rank 0 alone checkpoints: the other ranks build no state
                state = _method_state(inner, optimizer, epoch, best, stale, history)
                if improved or best_state is None:
                    best_state = {**state, "model": _cpu_copy(state["model"]), "optimizer": {}}
                if last:  # the method is done: its kept epoch joins `done/`
                    _finish_method(keep / method, inner, best_state, spec, metrics,
                                   time.perf_counter() - started, history)
                shutil.copytree(keep, Path(tmp) / "done")
                progress = {"method_index": index + 1 if last else index}
                (Path(tmp) / PROGRESS).write_text(json.dumps(progress))
                if not last:
                    torch.save(state, Path(tmp) / STATE)
                    torch.save(best_state, Path(tmp) / BEST)
                checkpoint = ray.train.Checkpoint.from_directory(tmp)
            ray.train.report(metrics, checkpoint=checkpoint)
        if client is not None and run_id:
            now = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[
                Metric(f"{prefix}/{k}", float(v), now, epoch) for k, v in metrics.items()
                if k in REPORTED and math.isfinite(float(v))])
            if method == "autoencoder" and config["preview"] is not None:
                _log_reconstructions(client, config, run_id, prefix, inner, epoch, device)
        if last:
            break


def _finish_method(out: Path, objective: Objective, best_state: dict[str, Any],
                   spec: EncoderSpec, metrics: dict[str, Any], train_time_s: float,
                   history: list[float]) -> None:
    """A finished method's kept epoch: its weights, its encoder and what the driver reports."""
    out.mkdir(parents=True, exist_ok=True)
    torch.save(best_state, out / STATE)
    objective.load_state_dict(best_state["model"])  # training is over: it becomes the kept one
    save_encoder(objective.encoder, spec, out / "encoder")
    (out / SUMMARY).write_text(json.dumps({
        "final_loss": metrics["loss"], "frames_per_s": metrics["frames_per_s"],
        "train_time_s": train_time_s, "epoch": int(best_state["epoch"]),
        "best_val": _finite_or_nan(best_state.get("best_val")), "val_history": history}))


def _log_reconstructions(client: MlflowClient, config: dict[str, Any], run_id: str,
                         prefix: str, objective: Objective, epoch: int,
                         device: torch.device) -> None:
    """Held-out frames beside their reconstructions, one PNG per epoch."""
    preview = torch.as_tensor(config["preview"], device=device)
    objective.eval()
    with torch.no_grad():
        recon = objective.model(preview).cpu().numpy()
    objective.train()
    grid = recon_grid(config["preview"], recon)
    client.log_image(run_id, grid, f"{prefix}/reconstructions/epoch_{epoch:03d}.png")


def pretrain_methods(cfg: ArcadeConfig, methods: list[str], view: str, spec: EncoderSpec,
                     train: ray.data.Dataset, num_labels: int, run_ids: dict[str, str],
                     tracking_uri: str, preview: np.ndarray | None = None,
                     loop: Callable[[dict[str, Any]], None] = train_loop,
                     val: ray.data.Dataset | None = None) -> dict[str, PretrainResult]:
    """Train every method on one view, one after another in ONE Ray Train run (one worker
    group and dataset pipeline; a start-up is ~20 s, most of a smoke run's pretraining).

    With `val`, each method's loss on it is measured after every epoch, the method stops after
    `pretrain.patience` epochs without improvement, and its encoder is the epoch with the
    lowest validation loss. Metrics go to each method's MLflow run (`run_ids`). `loop` is the
    per-worker function (tests wrap `train_loop` to inject faults)."""
    p = cfg.pretrain
    tag = next(iter(run_ids.values()), "norun")[:8]
    name = f"pretrain-{view}-{'-'.join(methods) if len(methods) < 3 else 'all'}-{tag}"
    storage = (cfg.runtime.work_dir / "ray_results").resolve()
    with epoch_progress(p.epochs, f"pretrain {view}", methods) as callbacks:
        trainer = TorchTrainer(
            loop,
            train_loop_config={
                "methods": methods, "spec": spec.__dict__, "num_labels": num_labels,
                "atc_momentum": p.atc_momentum, "atc_shift": p.atc_shift, "lr": p.lr,
                "epochs": p.epochs, "batch_size": p.batch_size, "seed": cfg.seed,
                "run_ids": run_ids, "tracking_uri": tracking_uri,
                "metric_prefix": f"pretrain/{view}/{{method}}", "preview": preview,
                "validate": val is not None, "patience": p.patience,
            },
            scaling_config=ray.train.ScalingConfig(num_workers=p.num_workers, use_gpu=p.use_gpu),
            run_config=ray.train.RunConfig(
                name=name, storage_path=str(storage),
                failure_config=ray.train.FailureConfig(max_failures=p.max_failures),
                # The latest checkpoint holds every finished method's kept epoch (`done/`)
                # and the running one's state: a restart needs nothing older.
                checkpoint_config=ray.train.CheckpointConfig(num_to_keep=1),
                callbacks=callbacks,  # each epoch's report, shown on the driver
            ),
            datasets={"train": train} | ({"val": val} if val is not None else {}),
        )
        result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"pretraining {methods} on {view} produced no checkpoint")
    out = {}
    for method in methods:
        kept = Path(result.checkpoint.path) / "done" / method
        if not (kept / SUMMARY).exists():
            raise RuntimeError(f"pretraining {method} on {view} did not finish ({kept})")
        summary = json.loads((kept / SUMMARY).read_text())
        state = torch.load(kept / STATE, map_location="cpu", weights_only=True)
        objective = Objective(method, spec, num_labels, p.atc_momentum, p.atc_shift)
        objective.load_state_dict(state["model"])
        load_encoder(kept / "encoder", expected=spec)  # the saved encoder must load cleanly
        objective.eval()
        out[method] = PretrainResult(
            method, view, objective, spec, float(summary["final_loss"]),
            float(summary["frames_per_s"]), float(summary["train_time_s"]), kept,
            int(summary["epoch"]), _finite_or_nan(summary["best_val"]),
            tuple(float(v) for v in summary["val_history"]))
    return out


def pretrain(cfg: ArcadeConfig, method: str, view: str, spec: EncoderSpec,
             train: ray.data.Dataset, num_labels: int, run_id: str | None, tracking_uri: str,
             preview: np.ndarray | None = None,
             loop: Callable[[dict[str, Any]], None] = train_loop,
             val: ray.data.Dataset | None = None) -> PretrainResult:
    """One method on one view (`pretrain_methods` with one method)."""
    return pretrain_methods(cfg, [method], view, spec, train, num_labels,
                            {method: run_id} if run_id else {}, tracking_uri, preview, loop,
                            val)[method]
