"""Prototypical networks for few-shot classification (Snell et al. 2017, "Prototypical
Networks for Few-shot Learning").

Each class is represented by the mean embedding (prototype) of its k support examples; a query
is classified by a softmax over negative squared Euclidean distances to the prototypes.
Trained episodically on base classes, the embedding transfers to classes never seen in
training, which then need only k examples each.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def class_prototypes(support: torch.Tensor, labels: torch.Tensor, num_classes: int
                     ) -> torch.Tensor:
    """Mean support embedding per class: (N, D), (N,) ints in [0, C) -> (C, D).

    Every class needs at least one support example."""
    if support.dim() != 2 or labels.shape != support.shape[:1]:
        raise ValueError(f"support must be (N, D) with labels (N,), got {tuple(support.shape)} "
                         f"and {tuple(labels.shape)}")
    counts = torch.bincount(labels.long(), minlength=num_classes)
    if counts.numel() > num_classes or (counts == 0).any():
        raise ValueError(f"every class in [0, {num_classes}) needs a support example, got "
                         f"counts {counts.tolist()}")
    sums = torch.zeros(num_classes, support.shape[1], dtype=support.dtype,
                       device=support.device).index_add_(0, labels.long(), support)
    return sums / counts[:, None].to(support.dtype)


def prototype_logits(query: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """(Q, D), (C, D) -> (Q, C) negative squared Euclidean distances."""
    return -torch.cdist(query, prototypes).pow(2)


def prototypical_loss(support: torch.Tensor, support_labels: torch.Tensor, query: torch.Tensor,
                      query_labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Cross entropy of the queries against the support set's prototypes (one episode)."""
    logits = prototype_logits(query, class_prototypes(support, support_labels, num_classes))
    return F.cross_entropy(logits, query_labels.long())


class ProtoNet(nn.Module):
    """The embedding a prototypical network learns: an MLP over frozen encoder features."""

    def __init__(self, in_dim: int, hidden: int = 128, out_dim: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
