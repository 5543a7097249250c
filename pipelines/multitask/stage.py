"""The multi-task stage: a model per RAM variable (single-task), one shared encoder with a head
per variable (hard sharing), and an encoder per variable coupled by an L2 penalty (soft
sharing); per-task test F1 and the compute each needs, in one table.

The encoder (`multitask.trunk`) is either an MLP over the project's frozen frame features
(`features`, cheap enough for a laptop) or a NatureCNN trained end to end on the policy's
4x84x84 view (`cnn`); for the latter, frame stacks are built per batch from the 84x84 frames,
so a task holds the frames once. Each model trains as a plain torch loop in its own Ray task.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import ray
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from models.encoder import EncoderSpec, build_encoder
from models.fusion import mlp
from models.multitask import HardSharing, SoftSharing
from pipelines.core.charts import grouped_bars, log_png, log_table
from pipelines.core.config import ArcadeConfig, MultitaskConfig
from pipelines.core.torch_fit import batches, fit, predict, submit
from pipelines.core.tracking import log_metrics
from pipelines.data.dataset import DatasetError
from pipelines.data.modalities import SMALL, STACK, ModalSplit, load_modalities
from pipelines.data.prep import log_dataset_input
from pipelines.data.splits import SPLITS
from pipelines.features.frozen import load_frozen_encoder, standardize
from pipelines.features.probes import weighted_f1

log = logging.getLogger("arcadelab")
SCHEME_NAMES = {"single": "single-task", "hard": "hard sharing", "soft": "soft sharing"}


@dataclass(frozen=True)
class MultitaskResult:
    table: pd.DataFrame  # scheme, models, <label> F1..., mean_f1, params, mflops, train_time_s
    labels: tuple[str, ...]
    trunk: str  # "features" (MLP over the frozen encoder's features) or "cnn"

    def describe(self) -> str:
        return f"{self.trunk} trunk, mean F1 " + ", ".join(
            f"{r.scheme} {r.mean_f1:.3f} ({r.train_time_s:.0f} s)" for r in self.table.itertuples())


def task_arrays(split: ModalSplit, feats: np.ndarray | None, rows: np.ndarray | None = None
                ) -> dict[str, np.ndarray]:
    """Inputs and labels of one split (rows: a subset, for the train split). The cnn trunk
    gets the frames once plus each row's stack indices; the features trunk the features."""
    rows = np.arange(len(split)) if rows is None else rows
    if feats is not None:
        return {"x": feats[rows], "labels": split.labels[rows]}
    return {"frames": split.frames, "stack": split.stack_index(STACK)[rows],
            "labels": split.labels[rows]}


def _inputs(arrays: Mapping[str, np.ndarray], b: Mapping[str, torch.Tensor]) -> torch.Tensor:
    if "x" in b:
        return b["x"]
    return torch.from_numpy(arrays["frames"][b["stack"].numpy()])


def build(scheme: str, tasks: int, mt: MultitaskConfig, in_dim: int | None = None
          ) -> nn.Module:
    """The scheme's model over `tasks` heads (trunk, sizes and soft penalty from `mt`);
    `in_dim` (feature size) for the features trunk."""
    out = mt.feature_dim
    if mt.trunk == "cnn":
        spec = EncoderSpec(in_channels=STACK, height=SMALL, width=SMALL, feature_dim=out)

        def make() -> nn.Module:
            return build_encoder(spec)
    else:
        if in_dim is None:
            raise ValueError("the features trunk needs in_dim")

        def make() -> nn.Module:
            return mlp(in_dim, mt.hidden, out)
    if scheme in ("single", "hard"):
        return HardSharing(make(), out, tasks)
    if scheme == "soft":
        return SoftSharing(make, out, tasks, penalty=mt.soft_penalty)
    raise ValueError(f"unknown multi-task scheme {scheme!r}")


def train_flops_per_example(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """FLOPs of one forward + backward pass per example, counted by torch's FlopCounterMode
    on a batch of 2 (counts matmuls and convolutions, the bulk of the work)."""
    counter = FlopCounterMode(display=False)
    with counter:
        model.loss(x[:2], y[:2]).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 2


def train_scheme(data: dict[str, dict[str, np.ndarray]], scheme: str, task_idx: list[int],
                 mt: MultitaskConfig, seed: int) -> dict[str, Any]:
    """Ray task body: one model over the tasks `task_idx` -> test F1 per task and its cost."""
    torch.manual_seed(seed)
    tr = data["train"]
    in_dim = tr["x"].shape[1] if "x" in tr else None
    model = build(scheme, len(task_idx), mt, in_dim)
    keys = ("x",) if "x" in tr else ("stack",)

    def arrays(split: str) -> dict[str, np.ndarray]:
        return {**{k: data[split][k] for k in keys}, "y": data[split]["labels"][:, task_idx]}

    first = next(batches(arrays("train"), 2, shuffle=False))
    flops = train_flops_per_example(model, _inputs(tr, first), first["y"])

    def f1s(m: nn.Module, split: str) -> list[float]:
        pred = predict(m, arrays(split), batch_size=256,
                       call=lambda m, b: m(_inputs(data[split], b)).argmax(-1))
        y = arrays(split)["y"]
        return [weighted_f1(y[:, i], pred[:, i]) for i in range(len(task_idx))]

    res = fit(model, lambda m, b: m.loss(_inputs(tr, b), b["y"]), arrays("train"),
              epochs=mt.epochs, batch_size=mt.batch_size, lr=mt.lr, seed=seed,
              score=lambda m: float(np.mean(f1s(m, "val"))))
    return {"scheme": scheme, "tasks": task_idx, "f1": f1s(res.model, "test"),
            "params": float(sum(p.numel() for p in model.parameters())),
            "flops_per_example": flops, "train_time_s": res.train_time_s,
            "examples": float(len(tr["labels"]) * mt.epochs)}


def run_multitask_stage(cfg: ArcadeConfig, data_path: Path) -> MultitaskResult:
    """Runs inside the stage's MLflow run."""
    if mlflow.active_run() is None:
        raise RuntimeError("run_multitask_stage must run inside the stage's MLflow run")
    mt = cfg.multitask
    encoder = (load_frozen_encoder(mt.encoder, cfg.pretrain.feature_dim, cfg.seed)
               if mt.trunk == "features" else None)
    manifest, splits = load_modalities(data_path, "multitask", ("frame",),
                                       keep_full=encoder is not None and encoder.needs_full)
    labels = splits["train"].label_names
    if not labels:
        raise DatasetError(f"dataset {data_path} has no usable RAM labels for multi-task "
                           f"learning (annotated: {list(manifest.labels) or 'none'}; low "
                           f"entropy: {list(manifest.low_entropy_labels)})")
    log_dataset_input(data_path, manifest, context="multitask")
    rows = None
    if mt.max_train_rows is not None and mt.max_train_rows < len(splits["train"]):
        rng = np.random.default_rng(cfg.seed)
        rows = np.sort(rng.choice(len(splits["train"]), mt.max_train_rows, replace=False))
    feats: dict[str, np.ndarray | None] = dict.fromkeys(SPLITS)
    if encoder is not None:
        mlflow.set_tag("arcadelab.frame_encoder", encoder.source)
        raw = [encoder.features(splits[s]) for s in SPLITS]
        feats = dict(zip(SPLITS, standardize(*raw), strict=True))
    data = ray.put({s: task_arrays(splits[s], feats[s], rows if s == "train" else None)
                    for s in SPLITS})
    every = list(range(len(labels)))
    jobs = []
    for scheme in mt.schemes:
        if scheme == "single":
            jobs += [submit(train_scheme, data, "single", [t], mt, cfg.seed) for t in every]
        else:
            jobs.append(submit(train_scheme, data, scheme, every, mt, cfg.seed))
    log.info("multitask: %d Ray tasks over %d labels", len(jobs), len(labels))
    table = _table(ray.get(jobs), labels, mt.schemes)
    metrics = {}
    for r in table.to_dict("records"):
        key = f"mtl/{r['key']}"
        metrics |= {f"{key}/f1/{n}": r[n] for n in labels}
        metrics |= {f"{key}/{c}": r[c] for c in ("mean_f1", "params", "train_mflops_per_example",
                                                 "train_time_s", "models")}
    log_metrics(metrics)
    shown = table.drop(columns=["key"])
    log_table(shown, "mtl", "multitask")
    grid = table.set_index("scheme")[[*labels, "mean_f1"]].T
    log_png(lambda p: grouped_bars(grid, p, "Multi-task: test F1 per RAM variable",
                                   "test F1 (weighted)"), "mtl", "multitask_f1")
    return MultitaskResult(shown, labels, mt.trunk)


def _table(results: list[dict[str, Any]], labels: tuple[str, ...], schemes: tuple[str, ...]
           ) -> pd.DataFrame:
    rows = []
    for scheme in schemes:
        mine = [r for r in results if r["scheme"] == scheme]
        f1 = {labels[t]: f for r in mine for t, f in zip(r["tasks"], r["f1"], strict=True)}
        rows.append({"scheme": SCHEME_NAMES[scheme], "key": scheme, "models": len(mine), **f1,
                     "mean_f1": float(np.mean(list(f1.values()))),
                     "params": sum(r["params"] for r in mine),
                     # every model sees every example: the scheme's cost per example is the sum
                     "train_mflops_per_example": sum(r["flops_per_example"] for r in mine) / 1e6,
                     "train_time_s": sum(r["train_time_s"] for r in mine)})
    return pd.DataFrame(rows)
