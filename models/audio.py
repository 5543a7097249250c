"""The sound modality: ALE's per-step audio (512 uint8 samples) as a feature vector.

Pong's sounds are square waves (samples at two levels around 128) whose pitch tells a paddle
hit from a wall bounce or a point; silence is a constant buffer. As speech models do with
spectrograms (e.g. Ngiam et al. 2011, "Multimodal Deep Learning"), the encoder reads the
log-magnitude spectrum, where pitch is one peak, rather than the raw waveform, whose phase
shifts from step to step.
"""

from __future__ import annotations

import torch
from torch import nn

SOUND_SAMPLES = 512


def check_sound(sound: torch.Tensor, samples: int = SOUND_SAMPLES) -> None:
    if sound.dim() != 2 or sound.shape[1] != samples:
        raise ValueError(f"sound must be (B, {samples}), got {tuple(sound.shape)}")


def has_sound(sound: torch.Tensor) -> torch.Tensor:
    """(B, samples) -> (B,) bool: True where the buffer is not constant (a sound was made)."""
    if sound.dim() != 2:
        raise ValueError(f"sound must be (B, samples), got {tuple(sound.shape)}")
    return (sound != sound[:, :1]).any(dim=1)


def log_spectrum(sound: torch.Tensor) -> torch.Tensor:
    """(B, samples) uint8 or float -> (B, samples // 2 + 1) log(1 + |rfft|) of the centred wave.

    uint8 samples are centred on 128 and scaled by 1/128; a silent (constant) buffer maps to
    all zeros whatever its level, since the DC bin is removed with the mean."""
    x = sound.float()
    if sound.dtype == torch.uint8:
        x = (x - 128.0) / 128.0
    x = x - x.mean(dim=1, keepdim=True)
    return torch.log1p(torch.fft.rfft(x, dim=1).abs())


class AudioEncoder(nn.Module):
    """Sound (B, samples) -> features (B, feature_dim): log spectrum -> MLP."""

    def __init__(self, samples: int = SOUND_SAMPLES, feature_dim: int = 64, hidden: int = 128):
        super().__init__()
        self.samples = samples
        self.feature_dim = feature_dim
        self.spectrum_dim = samples // 2 + 1
        self.mlp = nn.Sequential(
            nn.Linear(self.spectrum_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, feature_dim),
        )

    def forward(self, sound: torch.Tensor) -> torch.Tensor:
        check_sound(sound, self.samples)
        return self.mlp(log_spectrum(sound))
