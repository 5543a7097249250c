"""Multi-task learning: hard and soft parameter sharing (Ruder 2017, "An Overview of Multi-Task
Learning in Deep Neural Networks").

Hard sharing: one encoder, one head per task; the tasks regularise each other through the
shared weights. Soft sharing: each task keeps its own encoder, and a penalty on the distance
between the encoders' parameters pulls them together (Duong et al. 2015, "Low Resource
Dependency Parsing: Cross-lingual Parameter Sharing in a Neural Network Parser"). A
single-task model is hard sharing with one task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _check_labels(labels: torch.Tensor, tasks: int) -> None:
    if labels.dim() != 2 or labels.shape[1] != tasks:
        raise ValueError(f"labels must be (B, {tasks}), got {tuple(labels.shape)}")


class HardSharing(nn.Module):
    """One encoder -> a linear head per task. forward -> logits (B, tasks, num_classes)."""

    def __init__(self, encoder: nn.Module, feature_dim: int, tasks: int,
                 num_classes: int = 256):
        super().__init__()
        self.encoder = encoder
        self.tasks, self.num_classes = tasks, num_classes
        self.heads = nn.ModuleList(nn.Linear(feature_dim, num_classes) for _ in range(tasks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x)
        return torch.stack([h(z) for h in self.heads], dim=1)

    def loss(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross entropy summed over tasks (each task weighs the same), mean over the batch."""
        _check_labels(labels, self.tasks)
        logits = self(x)
        return self.tasks * F.cross_entropy(logits.flatten(0, 1), labels.flatten().long())


class SoftSharing(nn.Module):
    """An encoder and a head per task, coupled by `penalty` * soft_sharing_penalty."""

    def __init__(self, make_encoder: Callable[[], nn.Module], feature_dim: int, tasks: int,
                 num_classes: int = 256, penalty: float = 1e-2):
        super().__init__()
        if penalty < 0:
            raise ValueError(f"penalty must be >= 0, got {penalty}")
        self.tasks, self.num_classes, self.penalty = tasks, num_classes, penalty
        self.encoders = nn.ModuleList(make_encoder() for _ in range(tasks))
        self.heads = nn.ModuleList(nn.Linear(feature_dim, num_classes) for _ in range(tasks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([h(e(x)) for e, h in zip(self.encoders, self.heads, strict=True)],
                           dim=1)

    def loss(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        _check_labels(labels, self.tasks)
        logits = self(x)
        task_loss = self.tasks * F.cross_entropy(logits.flatten(0, 1), labels.flatten().long())
        return task_loss + self.penalty * soft_sharing_penalty(self.encoders)


def soft_sharing_penalty(models: Sequence[nn.Module]) -> torch.Tensor:
    """Sum over parameters of sum_t ||theta_t - mean_t theta_t||^2 across same-shaped models.

    Equals (1 / T) * sum_{i<j} ||theta_i - theta_j||^2, the pairwise L2 coupling, in O(T)."""
    if len(models) < 2:
        raise ValueError("soft sharing needs at least two models")
    groups = list(zip(*(list(m.parameters()) for m in models), strict=True))
    total = groups[0][0].new_zeros(())
    for params in groups:
        stacked = torch.stack(params)
        total = total + ((stacked - stacked.mean(dim=0)) ** 2).sum()
    return total
