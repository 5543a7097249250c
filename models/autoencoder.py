"""A convolutional autoencoder whose decoder mirrors NatureCNN.

Autoencoding is the oldest self-supervised objective (Hinton and Salakhutdinov 2006, "Reducing
the Dimensionality of Data with Neural Networks"); for Atari pixels a deterministic conv
autoencoder is a strong, simple baseline (Yarats et al. 2021, "Improving Sample Efficiency in
Model-Free Reinforcement Learning from Images"). The decoder inverts NatureCNN's three convs
with transposed convs, so encoder features carry the same spatial layout back to pixels.
"""

from __future__ import annotations

import torch
from torch import nn

from models.reconstruction import reconstruction_loss

# NatureCNN's conv stack: (out_channels, kernel, stride), first to last.
_NATURE_CONVS: tuple[tuple[int, int, int], ...] = ((32, 8, 4), (64, 4, 2), (64, 3, 1))


def _conv_out(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Output size of a valid conv and the remainder the conv throws away."""
    return (size - kernel) // stride + 1, (size - kernel) % stride


class ConvDecoder(nn.Module):
    """Features (B, feature_dim) -> frames (B, out_channels, height, width) in [0, 1].

    linear -> reshape to NatureCNN's last feature map -> three transposed convs. Each transposed
    conv's `output_padding` restores the rows/columns its conv dropped, so the output is exactly
    (height, width) for any input NatureCNN accepts (84x84 stacks and 210x160 frames alike)
    without a blurring resize.
    """

    def __init__(self, feature_dim: int, out_channels: int, height: int, width: int):
        super().__init__()
        self.out_shape = (out_channels, height, width)
        h, w = height, width
        pads: list[tuple[int, int]] = []
        for _, kernel, stride in _NATURE_CONVS:
            (h, rh), (w, rw) = _conv_out(h, kernel, stride), _conv_out(w, kernel, stride)
            if h < 1 or w < 1:
                raise ValueError(f"({height}, {width}) is too small for NatureCNN's convs")
            pads.append((rh, rw))
        self.map_shape = (_NATURE_CONVS[-1][0], h, w)
        self.fc = nn.Sequential(nn.Linear(feature_dim, h * w * _NATURE_CONVS[-1][0]), nn.ReLU())
        layers: list[nn.Module] = []
        # Walk the convs backwards: conv k maps in_k -> out_k, so its mirror maps out_k -> in_k.
        in_channels = [out_channels] + [c for c, _, _ in _NATURE_CONVS[:-1]]
        for idx in reversed(range(len(_NATURE_CONVS))):
            c_out, kernel, stride = _NATURE_CONVS[idx]
            layers.append(nn.ConvTranspose2d(c_out, in_channels[idx], kernel, stride,
                                             output_padding=pads[idx]))
            layers.append(nn.ReLU() if idx > 0 else nn.Sigmoid())
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(z.shape[0], *self.map_shape))


class AutoEncoder(nn.Module):
    """Encoder + ConvDecoder trained to reproduce its input; the encoder is what gets kept."""

    def __init__(self, encoder: nn.Module, decoder: ConvDecoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) uint8 or float in [0, 1] -> reconstruction (B, C, H, W) in [0, 1]."""
        return self.decoder(self.encoder(x))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Pixel MSE between the reconstruction and x (scaled to [0, 1] if uint8)."""
        return reconstruction_loss(self(x), x)
