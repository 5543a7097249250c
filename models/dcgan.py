"""DCGAN for 84x84 grayscale game frames.

Radford et al. 2016, "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks": all-convolutional generator (transposed convs, BatchNorm, ReLU, output
in [0, 1] here instead of tanh's [-1, 1]) and discriminator (strided convs, BatchNorm,
LeakyReLU 0.2), weights from N(0, 0.02). Goodfellow et al. 2014's game, with the
non-saturating generator loss; generator and discriminator are updated in turn.

Sizes: z (B, z_dim) -> 5x5 -> 10x10 -> 21x21 -> 42x42 -> 84x84, and the mirror for D.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FRAME = 84


class Generator(nn.Module):
    def __init__(self, z_dim: int = 64, width: int = 16):
        super().__init__()
        self.z_dim = z_dim
        c = width
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 8 * c, 5, 1, 0, bias=False),  # 1 -> 5
            nn.BatchNorm2d(8 * c), nn.ReLU(True),
            nn.ConvTranspose2d(8 * c, 4 * c, 4, 2, 1, bias=False),  # 5 -> 10
            nn.BatchNorm2d(4 * c), nn.ReLU(True),
            nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, output_padding=1, bias=False),  # -> 21
            nn.BatchNorm2d(2 * c), nn.ReLU(True),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False),  # 21 -> 42
            nn.BatchNorm2d(c), nn.ReLU(True),
            nn.ConvTranspose2d(c, 1, 4, 2, 1),  # 42 -> 84
            nn.Sigmoid(),
        )
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, z_dim) -> frames (B, 1, 84, 84) in [0, 1]."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be (B, {self.z_dim}), got {tuple(z.shape)}")
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    def __init__(self, width: int = 16):
        super().__init__()
        c = width
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 84 -> 42 (no BN on input)
            nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c),
            nn.LeakyReLU(0.2, True),  # -> 21
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * c),
            nn.LeakyReLU(0.2, True),  # -> 10
            nn.Conv2d(4 * c, 8 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(8 * c),
            nn.LeakyReLU(0.2, True),  # -> 5
            nn.Conv2d(8 * c, 1, 5, 1, 0),  # -> 1
        )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """frames (B, 1, 84, 84), uint8 or float in [0, 1] -> logits (B,)."""
        if tuple(x.shape[1:]) != (1, FRAME, FRAME):
            raise ValueError(f"frames must be (B, 1, {FRAME}, {FRAME}), got {tuple(x.shape)}")
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x
        return self.net(x).flatten()


def init_weights(module: nn.Module) -> None:
    """DCGAN's init: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02) and shift 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE pushing D(real) to 1 and D(fake) to 0 (sum of the two means)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: -log D(G(z)) (Goodfellow et al. 2014, section 3)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
