"""Augmented Temporal Contrast (ATC).

Stooke, Lee, Abbeel, Laskin 2021, "Decoupling Representation Learning from Reinforcement
Learning" (ICML). An anchor frame o_t and a frame k steps later o_{t+k} are both randomly
shifted; the anchor goes through the online encoder, a compressor and a residual predictor, the
positive through a momentum (EMA) copy of encoder and compressor; a learned bilinear product
scores every anchor against every positive in the batch and InfoNCE picks the true pair.
Features learned this way match or beat end-to-end RL features on many Atari games.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import nn

from models.augment import random_shift
from models.info_nce import info_nce


class ResidualPredictor(nn.Module):
    """z + MLP(z): starts near identity so early training is not fighting a random map."""

    def __init__(self, latent_dim: int, hidden_dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, latent_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.mlp(z)


class ATC(nn.Module):
    """ATC pretraining head around an online encoder (the module whose weights are kept)."""

    def __init__(self, encoder: nn.Module, feature_dim: int, latent_dim: int = 128,
                 hidden_dim: int = 512, momentum: float = 0.99, pad: int = 4):
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.momentum = momentum
        self.pad = pad
        self.encoder = encoder
        self.compressor = nn.Linear(feature_dim, latent_dim)
        self.predictor = ResidualPredictor(latent_dim, hidden_dim)
        # Bilinear contrast matrix; Linear-style init as in the authors' rlpyt code.
        self.W = nn.Parameter(nn.Linear(latent_dim, latent_dim, bias=False).weight.detach())
        # Momentum copies: registered (so they are saved and moved with .to()) but frozen.
        self.target_encoder = copy.deepcopy(encoder)
        self.target_compressor = copy.deepcopy(self.compressor)
        for p in self._target_modules().parameters():
            p.requires_grad_(False)

    def _online_modules(self) -> nn.ModuleList:
        return nn.ModuleList([self.encoder, self.compressor])

    def _target_modules(self) -> nn.ModuleList:
        return nn.ModuleList([self.target_encoder, self.target_compressor])

    def online_parameters(self) -> Iterator[nn.Parameter]:
        """Everything an optimiser should update: all parameters except the momentum copies."""
        target_ids = {id(p) for p in self._target_modules().parameters()}
        return (p for p in self.parameters() if id(p) not in target_ids)

    def anchor(self, obs: torch.Tensor) -> torch.Tensor:
        """obs (B, C, H, W), already augmented -> predicted code (B, latent_dim)."""
        return self.predictor(self.compressor(self.encoder(obs)))

    @torch.no_grad()
    def target(self, obs: torch.Tensor) -> torch.Tensor:
        """obs (B, C, H, W), already augmented -> momentum code (B, latent_dim), no grad."""
        return self.target_compressor(self.target_encoder(obs))

    def logits(self, anchor: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B, L) anchors and (B, L) targets -> (B, B) bilinear scores anchor @ W @ target.T."""
        return anchor @ self.W @ target.T

    def loss(self, obs_t: torch.Tensor, obs_tk: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """InfoNCE of matching each shifted o_t to its shifted o_{t+k} among the batch.

        Shape contract: obs_t, obs_tk (B, C, H, W) uint8 or float -> scalar.
        """
        if obs_t.shape != obs_tk.shape:
            raise ValueError(f"obs_t {tuple(obs_t.shape)} and obs_tk {tuple(obs_tk.shape)} "
                             "differ")
        anchor = self.anchor(random_shift(obs_t, self.pad, generator))
        target = self.target(random_shift(obs_tk, self.pad, generator))
        return info_nce(self.logits(anchor, target))

    @torch.no_grad()
    def update_target(self) -> None:
        """EMA step: target = m * target + (1 - m) * online, for parameters and float buffers."""
        m = self.momentum
        online, target = self._online_modules(), self._target_modules()
        for t, o in zip(target.parameters(), online.parameters(), strict=True):
            t.mul_(m).add_(o.detach(), alpha=1.0 - m)
        for tb, ob in zip(target.buffers(), online.buffers(), strict=True):
            if tb.is_floating_point():
                tb.mul_(m).add_(ob, alpha=1.0 - m)
            else:
                tb.copy_(ob)
