"""Frozen-encoder features: the one place observations become feature vectors.

Pretraining's probes read a view dataset through Ray Data, the frozen-feature stages
(multimodal, few-shot, generative) read numpy splits in-process, and active learning's pool
encodes one episode per Ray Data task: they differ in where the frames come from, not in how
they are encoded. Here, for all of them: the encoder in eval mode, no autograd, fixed-size
chunks in row order, float32 features back on the CPU. Each caller keeps its own chunk size
(256 or 512): oneDNN may pick another kernel for another batch size, and the features must
stay the same to the bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from models.encoder import EncoderSpec, build_encoder

if TYPE_CHECKING:  # only for the annotation: the in-process callers need no Ray
    import ray.data


def rebuild_encoder(spec: EncoderSpec, weights: Mapping[str, torch.Tensor]) -> nn.Module:
    """The encoder `spec` describes, holding `weights`, in eval mode: how a frozen encoder
    crosses into a Ray task (its spec and weights travel, never a pickled module)."""
    encoder = build_encoder(spec)
    encoder.load_state_dict(weights)
    return encoder.eval()


@torch.no_grad()
def encode(encoder: nn.Module, obs: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Observations (N, C, H, W), uint8 as stored -> the encoder's outputs (N, ...) float32,
    in row order (no rows: one pass over the empty batch, which gives the (0, ...) shape)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    encoder.eval()
    param = next(encoder.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    # Contiguous and writable: torch.from_numpy warns on read-only arrays (Ray Data's batches,
    # np.frombuffer's frames); a copy is made only where one of the two is missing.
    out = [encoder(torch.from_numpy(np.require(obs[i:i + batch_size], requirements=("C", "W")))
                   .to(device)).cpu().numpy()
           for i in range(0, max(len(obs), 1), batch_size)]
    return np.concatenate(out).astype(np.float32, copy=False)


def extract_features(encoder: nn.Module, ds: ray.data.Dataset, batch_size: int = 256
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Frozen-encoder features of a view dataset's `obs` column, and its `labels` rows."""
    feats, labels = [], []
    for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
        feats.append(encode(encoder, batch["obs"], batch_size))
        labels.append(batch["labels"])
    return np.concatenate(feats), np.concatenate(labels)


def split_features(encoder: nn.Module, data: Mapping[str, ray.data.Dataset], labels: list[str]
                   ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """Frozen features per dataset and its labels by name: what the probes take."""
    feats, ys = {}, {}
    for split, ds in data.items():
        x, y = extract_features(encoder, ds)
        feats[split] = x
        ys[split] = {n: y[:, i] for i, n in enumerate(labels)}
    return feats, ys
