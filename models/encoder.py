"""The encoder interface: the one seam shared by pretraining, probes and the RL policy.

An encoder maps a batch of stacked grayscale frames (B, C, H, W), uint8 in [0, 255] or float
in [0, 1], to features (B, feature_dim). Scaling uint8 inside the encoder lets env runners
ship compact uint8 observations.
"""

from __future__ import annotations

import torch
from torch import nn


class NatureCNN(nn.Module):
    """The DQN Nature paper's convnet (Mnih et al. 2015) with a configurable feature size."""

    def __init__(self, in_channels: int = 4, feature_dim: int = 512, screen_size: int = 84):
        super().__init__()
        self.in_channels = in_channels
        self.screen_size = screen_size
        self.feature_dim = feature_dim
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n_flat = self.conv(torch.zeros(1, in_channels, screen_size, screen_size)).shape[1]
        self.fc = nn.Sequential(nn.Linear(n_flat, feature_dim), nn.ReLU())
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.orthogonal_(m.weight, gain=nn.init.calculate_gain("relu"))
                nn.init.zeros_(m.bias)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.screen_size, self.screen_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"encoder expects (B, {self.input_shape}), got {tuple(x.shape)}")
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        return self.fc(self.conv(x))
