"""Frame-RAM CLIP: contrastive alignment of the screen with the console's 128-byte RAM.

Radford et al. 2021, "Learning Transferable Visual Models From Natural Language Supervision"
(CLIP), with the Atari RAM in the role of the caption: both describe one instant, the RAM
exactly, so aligning them teaches the frame encoder what the game state is without labels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from models.clip_loss import symmetric_info_nce


class RamEncoder(nn.Module):
    """RAM bytes (B, ram_bytes) uint8 -> features (B, feature_dim).

    Each byte is fed both as its 8 bits (flags and small counters live in single bits) and as
    byte/255 (positions are ordinal); raw byte values alone would hide bit flags from an MLP.
    """

    def __init__(self, ram_bytes: int = 128, feature_dim: int = 256, hidden: int = 512):
        super().__init__()
        self.ram_bytes = ram_bytes
        self.feature_dim = feature_dim
        self.mlp = nn.Sequential(
            nn.Linear(ram_bytes * 9, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, feature_dim),
        )
        self.register_buffer("_shifts", torch.arange(8, dtype=torch.uint8), persistent=False)

    def unpack(self, ram: torch.Tensor) -> torch.Tensor:
        """(B, ram_bytes) integer -> (B, ram_bytes * 9) float: bits (LSB first, byte-major)
        followed by bytes / 255."""
        if ram.dim() != 2 or ram.shape[1] != self.ram_bytes:
            raise ValueError(f"RamEncoder expects (B, {self.ram_bytes}), got {tuple(ram.shape)}")
        if ram.is_floating_point() or ram.dtype == torch.bool:
            raise ValueError(f"RAM must be an integer tensor of bytes, got {ram.dtype}")
        ram = ram.to(torch.uint8)
        bits = (ram.unsqueeze(-1) >> self._shifts) & 1  # (B, ram_bytes, 8)
        return torch.cat([bits.flatten(1).float(), ram.float() / 255.0], dim=1)

    def forward(self, ram: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.unpack(ram))


class FrameRamCLIP(nn.Module):
    """Two encoders, two linear projections into one space, and CLIP's learned temperature."""

    def __init__(self, frame_encoder: nn.Module, frame_dim: int, ram_encoder: RamEncoder,
                 ram_dim: int, embed_dim: int = 128, init_temperature: float = 0.07):
        super().__init__()
        if init_temperature <= 0:
            raise ValueError(f"init_temperature must be > 0, got {init_temperature}")
        self.frame_encoder = frame_encoder
        self.ram_encoder = ram_encoder
        self.frame_proj = nn.Linear(frame_dim, embed_dim)
        self.ram_proj = nn.Linear(ram_dim, embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))

    def embed_frames(self, x: torch.Tensor) -> torch.Tensor:
        """Frames (B, C, H, W) -> (B, embed_dim), not normalised (consumers use cosine)."""
        return self.frame_proj(self.frame_encoder(x))

    def embed_ram(self, r: torch.Tensor) -> torch.Tensor:
        """RAM (B, ram_bytes) -> (B, embed_dim), not normalised (consumers use cosine)."""
        return self.ram_proj(self.ram_encoder(r))

    def loss(self, frames: torch.Tensor, ram: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE between frame i and RAM i of the batch -> scalar."""
        return symmetric_info_nce(self.embed_frames(frames), self.embed_ram(ram),
                                  self.logit_scale)
