"""InfoNCE, the contrastive loss behind CPC, SimCLR, MoCo, CURL and ATC.

Oord, Li, Vinyals 2018, "Representation Learning with Contrastive Predictive Coding": score
every anchor against every candidate; the loss is the cross entropy of picking the true
positive, so lowering it raises a lower bound on the mutual information between the views.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(logits: torch.Tensor) -> torch.Tensor:
    """Mean InfoNCE over rows of a (B, B) score matrix whose positives lie on the diagonal.

    Shape contract: logits (B, B), float -> scalar. Row i's negatives are the other samples of
    the batch (in-batch negatives), so no memory bank is needed.
    """
    if logits.dim() != 2 or logits.shape[0] != logits.shape[1]:
        raise ValueError(f"info_nce expects square (B, B) logits, got {tuple(logits.shape)}")
    targets = torch.arange(logits.shape[0], device=logits.device)
    return F.cross_entropy(logits, targets)


def cosine_logits(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cosine similarities divided by `temperature` (SimCLR's scoring; lower T sharpens it).

    Shape contract: a (B, D), b (N, D) -> (B, N) with entry [i, j] = cos(a_i, b_j) / T.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"cosine_logits expects (B, D) and (N, D), got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / temperature
