"""Pretraining throughput (frames/s) with 1 and 2 Ray Train workers, against a bare torch
loop of the same objective in this process (the limit), measured side by side in one run.

    .venv/bin/python benchmarks/pretrain_throughput.py --method atc --view stack84

Needs a dataset: it makes a small one (2 tasks x 2000 steps) in a temporary work dir.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import ray
import torch

from models.encoder import EncoderSpec
from pipelines.core import tracking
from pipelines.core.config import load_config
from pipelines.data.prep import prepare_data
from pipelines.data.views import view_dataset, view_shape
from pipelines.pretrain.train import Objective, pretrain


def bare_torch(method: str, spec: EncoderSpec, batch: dict[str, torch.Tensor], steps: int,
               threads: int) -> float:
    torch.set_num_threads(threads)
    obj = Objective(method, spec, num_labels=batch["labels"].shape[1])
    opt = torch.optim.Adam(obj.trainable(), lr=3e-4)
    start = time.perf_counter()
    for _ in range(steps):
        loss = obj(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        obj.after_step()
    return steps * len(batch["obs"]) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="atc", choices=["autoencoder", "atc", "clip",
                                                         "supervised"])
    ap.add_argument("--view", default="stack84", choices=["stack84", "full"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = {"work_dir": Path(tmp), "mlflow_tracking_uri": f"sqlite:///{tmp}/m.db"}
        sets = ["data.num_tasks=2", "data.steps_per_task=2000", "data.max_episode_steps=500",
                f"pretrain.epochs={args.epochs}", f"pretrain.batch_size={args.batch_size}",
                "pretrain.feature_dim=256"]
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        cfg = load_config("smoke", sets=sets, runtime=base)
        with tracking.stage_run(cfg, "data"):
            data = prepare_data(cfg)
        labels = ["player_y", "enemy_y", "ball_x", "ball_y"]
        train = view_dataset(data.path, "train", args.view, labels, temporal_k=3)
        c, h, w = view_shape(args.view)
        spec = EncoderSpec(in_channels=c, height=h, width=w, feature_dim=256)
        sample = train.take_batch(args.batch_size, batch_format="numpy")
        batch = {k: torch.as_tensor(v) for k, v in sample.items()}
        limit = bare_torch(args.method, spec, batch, steps=20, threads=2)
        rows = train.count()
        print(f"{args.method} on {args.view}: {rows} train frames, batch {args.batch_size}, "
              f"{args.epochs} epochs")
        print(f"bare torch loop, 2 threads    : {limit:7.0f} frames/s")
        for workers in (1, 2):
            cfg = load_config("smoke", sets=[*sets, f"pretrain.num_workers={workers}"],
                              runtime=base)
            res = pretrain(cfg, args.method, args.view, spec, train, len(labels), None, "")
            whole = rows * args.epochs / res.train_time_s
            print(f"Ray Train, {workers} worker(s)        : {res.frames_per_s:7.0f} frames/s in "
                  f"the last epoch ({res.frames_per_s / limit:.2f}x bare); {whole:7.0f} "
                  f"frames/s over the whole fit incl. start-up ({whole / limit:.2f}x)")
        ray.shutdown()


if __name__ == "__main__":
    main()
