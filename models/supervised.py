"""The fully supervised upper bound for RAM-label probes.

AtariARI (Anand et al. 2019, "Unsupervised State Representation Learning in Atari") compares
self-supervised encoders against one trained end to end on the RAM labels themselves: a shared
encoder with one 256-way classifier per RAM variable. Probe accuracy of pretrained encoders is
read against this ceiling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadClassifier(nn.Module):
    """Shared encoder -> num_heads independent linear heads of num_classes logits each.

    The heads are stored as one Linear of num_heads * num_classes outputs: mathematically one
    independent linear head per variable, computed in a single matmul.
    """

    def __init__(self, encoder: nn.Module, feature_dim: int, num_heads: int,
                 num_classes: int = 256):
        super().__init__()
        self.encoder = encoder
        self.num_heads = num_heads
        self.num_classes = num_classes
        self.heads = nn.Linear(feature_dim, num_heads * num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) -> logits (B, num_heads, num_classes)."""
        return self.heads(self.encoder(x)).view(-1, self.num_heads, self.num_classes)

    def loss(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross entropy averaged over heads (and batch); labels (B, num_heads) int64."""
        logits = self(x)
        if labels.shape != logits.shape[:2]:
            raise ValueError(f"labels must be (B, {self.num_heads}), got {tuple(labels.shape)}")
        return F.cross_entropy(logits.reshape(-1, self.num_classes), labels.reshape(-1).long())
