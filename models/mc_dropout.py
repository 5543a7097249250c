"""A small classifier over frozen encoder features whose dropout doubles as a posterior.

Monte Carlo dropout (Gal & Ghahramani 2016; used for BALD by Gal, Islam & Ghahramani 2017,
"Deep Bayesian Active Learning with Image Data"): keep dropout on at prediction time and
average T stochastic passes; the spread between passes measures what the model does not know.
One head per RAM variable, each a num_classes-way classifier, sharing one hidden layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MCDropoutHead(nn.Module):
    """features (B, in_dim) -> logits (B, num_labels, num_classes) through
    dropout -> linear -> ReLU -> dropout -> linear (one linear for all label heads)."""

    def __init__(self, in_dim: int, num_labels: int, num_classes: int = 256,
                 hidden: int = 512, dropout: float = 0.25):
        super().__init__()
        if min(in_dim, num_labels, num_classes, hidden) < 1:
            raise ValueError("in_dim, num_labels, num_classes and hidden must all be >= 1")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.num_labels = num_labels
        self.num_classes = num_classes
        self.body = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.ReLU(),
                                  nn.Dropout(dropout))
        self.out = nn.Linear(hidden, num_labels * num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x)).view(-1, self.num_labels, self.num_classes)

    def loss(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross entropy averaged over label heads and batch; labels (B, num_labels) int."""
        logits = self(x)
        if labels.shape != logits.shape[:2]:
            raise ValueError(f"labels must be (B, {self.num_labels}), got {tuple(labels.shape)}")
        return F.cross_entropy(logits.reshape(-1, self.num_classes), labels.reshape(-1).long())

    def per_example_loss(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B,) cross entropy of each example, averaged over its label heads (eval mode)."""
        logits = self(x)
        ce = F.cross_entropy(logits.reshape(-1, self.num_classes), labels.reshape(-1).long(),
                             reduction="none")
        return ce.view(-1, self.num_labels).mean(1)

    @torch.no_grad()
    def probs(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic class probabilities (dropout off): (B, num_labels, num_classes)."""
        was = self.training
        self.eval()
        try:
            return torch.softmax(self(x), dim=-1)
        finally:
            self.train(was)

    @torch.no_grad()
    def mc_probs(self, x: torch.Tensor, samples: int) -> torch.Tensor:
        """`samples` stochastic passes with dropout on: (samples, B, num_labels, num_classes)."""
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        was = self.training
        self.train()
        try:
            return torch.stack([torch.softmax(self(x), dim=-1) for _ in range(samples)])
        finally:
            self.train(was)

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden layer (dropout off): the space core-set distances are measured in."""
        was = self.training
        self.eval()
        try:
            return self.body(x)
        finally:
            self.train(was)
