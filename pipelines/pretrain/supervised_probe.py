"""AtariARI's fully supervised baseline: one encoder trained end to end per variable.

AtariARI (Anand et al. 2019; `atariari/benchmark/probe.py`, `fully_supervised=True`) gives
each RAM variable a fresh copy of the encoder, trains it together with that variable's linear
probe on the labels, early-stopped on validation F1, and reports the probe's test F1: the
ceiling a frozen representation's linear probe is read against. arcadelab's multi-head
supervised encoder (`models/supervised.py`) shares one encoder across all variables and is
then probed frozen like the SSL encoders; this is the paper's own definition of the ceiling,
one training per variable (so it costs as many encoder trainings as there are labels).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.encoder import EncoderSpec, build_encoder
from pipelines.core.torch_fit import Batch, fit, predict
from pipelines.features.probes import ProbeResult, weighted_f1

NUM_CLASSES = 256  # a RAM byte


def _model(spec: EncoderSpec, seed: int) -> nn.Module:
    torch.manual_seed(seed)  # the same initial encoder for every variable of one seed
    return nn.Sequential(build_encoder(spec), nn.Linear(spec.feature_dim, NUM_CLASSES))


def _loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    return F.cross_entropy(model(batch["x"]), batch["y"].long())


def _argmax(model: nn.Module, batch: Batch) -> torch.Tensor:
    return model(batch["x"]).argmax(dim=1)


def fit_supervised_probe(obs: dict[str, np.ndarray], y: dict[str, np.ndarray], *, label: str,
                         spec: EncoderSpec, epochs: int = 40, lr: float = 3e-4,
                         batch_size: int = 128, patience: int = 5, seed: int = 0
                         ) -> ProbeResult:
    """Encoder + linear probe trained end to end on one variable's labels.

    `obs` and `y` map each split (train, val, test) to observations (N, C, H, W) uint8 and
    labels (N,) in [0, 255]. The weights of the epoch with the best validation F1 are scored
    on test."""
    for split in ("train", "val", "test"):
        if split not in obs or split not in y:
            raise ValueError(f"{label}: missing split {split!r}")
        if len(obs[split]) != len(y[split]) or len(obs[split]) == 0:
            raise ValueError(f"{label}: {split} has {len(obs[split])} observations and "
                             f"{len(y[split])} labels (need the same, > 0)")
        if tuple(obs[split].shape[1:]) != spec.input_shape:
            raise ValueError(f"{label}: {split} observations are {obs[split].shape[1:]}, the "
                             f"encoder expects {spec.input_shape}")
        if y[split].min() < 0 or y[split].max() >= NUM_CLASSES:
            raise ValueError(f"{label}: labels must lie in [0, {NUM_CLASSES - 1}]")

    def val_f1(model: nn.Module) -> float:
        return weighted_f1(y["val"], predict(model, {"x": obs["val"]}, call=_argmax))

    result = fit(_model(spec, seed), _loss,
                 {"x": obs["train"], "y": y["train"].astype(np.int64)},
                 epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, score=val_f1,
                 patience=patience)
    test_pred = predict(result.model, {"x": obs["test"]}, call=_argmax)
    return ProbeResult(label=label, f1=weighted_f1(y["test"], test_pred),
                       accuracy=float(np.mean(test_pred == y["test"])),
                       val_f1=result.best_score, train_examples=len(y["train"]),
                       epochs_run=len(result.history))
