"""Pixel reconstruction loss for autoencoders.

Mean squared error in [0, 1] pixel space, as in the denoising/convolutional autoencoders used
for Atari representation learning (e.g. Yarats et al. 2021, "Improving Sample Efficiency in
Model-Free Reinforcement Learning from Images"). Targets arrive as stored uint8 frames or as
floats, so the scaling lives here rather than in every caller.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between recon (float in [0, 1]) and target (uint8 in [0, 255] or float in [0, 1]).

    Shape contract: recon and target of one shape (e.g. (B, C, H, W)) -> scalar.
    """
    if recon.shape != target.shape:
        raise ValueError(f"recon {tuple(recon.shape)} and target {tuple(target.shape)} differ")
    if not recon.is_floating_point():
        raise ValueError(f"recon must be float in [0, 1], got {recon.dtype}")
    target = target.to(recon.dtype) / 255.0 if target.dtype == torch.uint8 else \
        target.to(recon.dtype)
    return F.mse_loss(recon, target)
