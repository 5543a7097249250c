"""Parameter-free input layers, one per modality: what early fusion concatenates, and what the
learned modality encoders read.

frame: frozen encoder features (already float); sound: the log-magnitude spectrum
(`models/audio.py`); RAM: its bits and byte values, exactly as `RamEncoder.unpack` presents
them to its MLP.
"""

from __future__ import annotations

import torch
from torch import nn

from models.audio import SOUND_SAMPLES, check_sound, log_spectrum


class LogSpectrum(nn.Module):
    """(B, samples) sound -> (B, samples // 2 + 1)."""

    def __init__(self, samples: int = SOUND_SAMPLES):
        super().__init__()
        self.samples = samples
        self.out_dim = samples // 2 + 1

    def forward(self, sound: torch.Tensor) -> torch.Tensor:
        check_sound(sound, self.samples)
        return log_spectrum(sound)


class RamBits(nn.Module):
    """(B, ram_bytes) integer RAM -> (B, ram_bytes * 9): bits (LSB first, byte-major), then
    bytes / 255."""

    def __init__(self, ram_bytes: int = 128):
        super().__init__()
        self.ram_bytes = ram_bytes
        self.out_dim = ram_bytes * 9
        self.register_buffer("_shifts", torch.arange(8, dtype=torch.uint8), persistent=False)

    def forward(self, ram: torch.Tensor) -> torch.Tensor:
        if ram.dim() != 2 or ram.shape[1] != self.ram_bytes:
            raise ValueError(f"RAM must be (B, {self.ram_bytes}), got {tuple(ram.shape)}")
        if ram.is_floating_point() or ram.dtype == torch.bool:
            raise ValueError(f"RAM must be an integer tensor of bytes, got {ram.dtype}")
        ram = ram.to(torch.uint8)
        bits = (ram.unsqueeze(-1) >> self._shifts) & 1
        return torch.cat([bits.flatten(1).float(), ram.float() / 255.0], dim=1)
