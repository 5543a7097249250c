"""Fusion side by side: unimodal, bimodal and trimodal models of one supervised task ("a
sound or a point happens within the next k steps"), with early, late, element-wise (sum,
product), tensor and low-rank tensor fusion. One Ray task per variant."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import ray
import torch
import torch.nn.functional as F
from torch import nn

from models.audio import AudioEncoder
from models.clip import RamEncoder
from models.fusion import ConcatFusion, ElementwiseFusion, FusionNet, LateFusion, mlp
from models.modality_inputs import LogSpectrum, RamBits
from models.tensor_fusion import LowRankFusion, TensorFusion
from pipelines.core.config import MultimodalConfig
from pipelines.core.torch_fit import binary_scores, fit, predict, submit

MODALITIES = ("frame", "audio", "ram")
SHORT = {"frame": "V", "audio": "A", "ram": "R"}  # video, audio, RAM (state)
UNIMODAL = "unimodal"


def subsets() -> list[tuple[str, ...]]:
    """Every non-empty subset of the modalities, unimodal first."""
    return [c for r in (1, 2, 3) for c in itertools.combinations(MODALITIES, r)]


def subset_name(subset: tuple[str, ...]) -> str:
    return "+".join(SHORT[m] for m in subset)


def modality_encoder(m: str, frame_dim: int, out: int, hidden: int) -> nn.Module:
    if m == "frame":
        return mlp(frame_dim, hidden, out)
    if m == "audio":
        return AudioEncoder(feature_dim=out, hidden=hidden)
    return RamEncoder(feature_dim=out, hidden=hidden)


def input_layer(m: str) -> tuple[nn.Module, int | None]:
    """Early fusion's parameter-free input per modality and its width (None: frame dim)."""
    if m == "frame":
        return nn.Identity(), None
    layer = LogSpectrum() if m == "audio" else RamBits()
    return layer, layer.out_dim


def build_model(subset: tuple[str, ...], method: str, frame_dim: int, mc: MultimodalConfig
                ) -> nn.Module:
    """One fusion variant over `subset`; `method` is one of config.FUSIONS or 'unimodal'.
    Sizes from `mc`: hidden, tensor_dim, rank."""
    h, classes = mc.hidden, 2
    if method == UNIMODAL or len(subset) == 1:
        (m,) = subset
        return FusionNet({m: modality_encoder(m, frame_dim, h, h)}, ConcatFusion([h]),
                         mlp(h, h, classes))
    if method == "early":
        layers = {m: input_layer(m) for m in subset}
        dims = [d if d is not None else frame_dim for _, d in layers.values()]
        return FusionNet({m: layer for m, (layer, _) in layers.items()}, ConcatFusion(dims),
                         mlp(sum(dims), h, classes, layers=3))
    if method == "late":
        return LateFusion({m: build_model((m,), UNIMODAL, frame_dim, mc) for m in subset})
    if method in ("sum", "product"):
        fusion: nn.Module = ElementwiseFusion([h] * len(subset), method)
        dim = h
    elif method == "tensor":
        dim = mc.tensor_dim
        fusion = TensorFusion([dim] * len(subset))
    elif method == "lowrank":
        dim = h
        fusion = LowRankFusion([h] * len(subset), h, mc.rank)
    else:
        raise ValueError(f"unknown fusion {method!r}")
    encoders = {m: modality_encoder(m, frame_dim, dim, h) for m in subset}
    return FusionNet(encoders, fusion, mlp(fusion.out_dim, h, classes))


def _loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return F.cross_entropy(model(batch), batch["y"])


def _logits(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(batch)


def train_classifier(model: nn.Module, data: dict[str, dict[str, np.ndarray]],
                     mc: MultimodalConfig, seed: int,
                     loss: Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor] = _loss
                     ) -> tuple[nn.Module, dict[str, float]]:
    """Fit on train (mc.epochs, mc.batch_size, mc.lr), keep the epoch with the best validation
    macro F1, score on test."""
    def val_macro_f1(m: nn.Module) -> float:
        pred = predict(m, data["val"], call=_logits).argmax(1)
        return binary_scores(data["val"]["y"], pred)["macro_f1"]

    res = fit(model, loss, data["train"], epochs=mc.epochs, batch_size=mc.batch_size, lr=mc.lr,
              seed=seed, score=val_macro_f1)
    pred = predict(res.model, data["test"], call=_logits).argmax(1)
    scores = binary_scores(data["test"]["y"], pred)
    return res.model, {**scores, "val_macro_f1": res.best_score, "train_time_s": res.train_time_s,
                       "params": float(sum(p.numel() for p in model.parameters())),
                       "best_epoch": float(res.best_epoch)}


def train_variant(data: dict[str, dict[str, np.ndarray]], subset: tuple[str, ...], method: str,
                  mc: MultimodalConfig, seed: int) -> dict[str, Any]:
    """Ray task body: one fusion variant, trained and scored."""
    torch.manual_seed(seed)
    frame_dim = data["train"]["frame"].shape[1]
    _, scores = train_classifier(build_model(subset, method, frame_dim, mc), data, mc, seed)
    return {"subset": subset_name(subset), "modalities": len(subset), "method": method,
            **scores}


def run_fusion(data_ref: ray.ObjectRef, mc: MultimodalConfig, seed: int
               ) -> list[ray.ObjectRef]:
    """Submit every variant: each unimodal model once, each of `mc.fusions` for every 2+
    subset."""
    refs = []
    for subset in subsets():
        for method in ([UNIMODAL] if len(subset) == 1 else mc.fusions):
            refs.append(submit(train_variant, data_ref, subset, method, mc, seed))
    return refs


def fusion_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = ["subset", "modalities", "method", "macro_f1", "f1", "accuracy", "val_macro_f1",
            "positive_rate", "params", "train_time_s"]
    return pd.DataFrame(rows)[cols]


def fusion_grid(table: pd.DataFrame, metric: str = "macro_f1") -> pd.DataFrame:
    """Subsets as rows and fusion methods as columns (unimodal rows fill one column)."""
    grid = table.pivot_table(index="subset", columns="method", values=metric, aggfunc="first")
    order = [subset_name(s) for s in subsets() if subset_name(s) in grid.index]
    methods = [m for m in (UNIMODAL, "early", "late", "sum", "product", "tensor", "lowrank")
               if m in grid.columns]
    return grid.reindex(index=order, columns=methods)
