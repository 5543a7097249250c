"""Translation between modalities: frame -> RAM variables and RAM -> frame.

Translation maps one modality to another (Baltrusaitis et al. 2019, "Multimodal Machine
Learning: A Survey and Taxonomy"): here the screen to the game variables it shows (a
regression per RAM variable), and the console state to the screen (a decoder that draws the
frame from the 128 RAM bytes, the inverse of what the console's video chip does).
"""

from __future__ import annotations

import torch
from torch import nn

from models.autoencoder import ConvDecoder
from models.clip import RamEncoder


class FrameToRam(nn.Module):
    """Frame features (B, D) -> RAM variables (B, num_vars), regressed (standardised units)."""

    def __init__(self, frame_encoder: nn.Module, frame_dim: int, num_vars: int,
                 hidden: int = 128):
        super().__init__()
        self.frame_encoder = frame_encoder
        self.head = nn.Sequential(nn.Linear(frame_dim, hidden), nn.ReLU(),
                                  nn.Linear(hidden, num_vars))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.frame_encoder(x))


class RamToFrame(nn.Module):
    """RAM (B, 128) integer -> frame (B, 1, height, width) in [0, 1]: RamEncoder (bits and
    bytes MLP) -> ConvDecoder (NatureCNN's mirror)."""

    def __init__(self, height: int = 84, width: int = 84, feature_dim: int = 256,
                 hidden: int = 512):
        super().__init__()
        self.ram_encoder = RamEncoder(feature_dim=feature_dim, hidden=hidden)
        self.decoder = ConvDecoder(feature_dim, 1, height, width)

    def forward(self, ram: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.ram_encoder(ram))


def foreground_weighted_mse(pred: torch.Tensor, target: torch.Tensor, background: torch.Tensor,
                            weight: float = 20.0, threshold: float = 0.1) -> torch.Tensor:
    """Pixel MSE where pixels that differ from the static `background` by more than
    `threshold` count `weight` times.

    Plain MSE lets a decoder paint the background and skip the 2x4-pixel ball and the paddles
    (measured in the pretraining issue's autoencoder); weighting the moving pixels asks for
    them. Shapes: pred and target (B, C, H, W) in [0, 1], background broadcastable to them.
    weight 1 is plain MSE.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    if weight < 1:
        raise ValueError(f"weight must be >= 1, got {weight}")
    w = 1.0 + (weight - 1.0) * ((target - background).abs() > threshold).to(pred.dtype)
    return (w * (pred - target) ** 2).sum() / w.sum()
