"""Coordinated representations over three towers: frame, RAM and sound.

Extends the frame-RAM CLIP (`models/clip.py`, Radford et al. 2021) with an audio tower in the
same space, in the spirit of ImageBind (Girdhar et al. 2023): every pair of modalities is
aligned with CLIP's symmetric InfoNCE. Most Atari steps are silent and all silences are alike,
so the audio terms only use the rows of a batch that carry a sound.
"""

from __future__ import annotations

import torch
from torch import nn

from models.audio import has_sound
from models.clip import FrameRamCLIP
from models.clip_loss import symmetric_info_nce


class TriModalCLIP(nn.Module):
    """FrameRamCLIP plus an audio encoder and projection; one shared temperature."""

    def __init__(self, clip: FrameRamCLIP, audio_encoder: nn.Module, audio_dim: int,
                 embed_dim: int):
        super().__init__()
        self.clip = clip
        self.audio_encoder = audio_encoder
        self.audio_proj = nn.Linear(audio_dim, embed_dim)

    def embed_frames(self, x: torch.Tensor) -> torch.Tensor:
        return self.clip.embed_frames(x)

    def embed_ram(self, r: torch.Tensor) -> torch.Tensor:
        return self.clip.embed_ram(r)

    def embed_audio(self, s: torch.Tensor) -> torch.Tensor:
        return self.audio_proj(self.audio_encoder(s))

    def loss(self, frames: torch.Tensor, ram: torch.Tensor, sound: torch.Tensor
             ) -> torch.Tensor:
        """Frame-RAM InfoNCE on all rows, plus frame-audio and RAM-audio InfoNCE on the rows
        with a sound (when a batch holds at least two of them)."""
        f, r = self.embed_frames(frames), self.embed_ram(ram)
        scale = self.clip.logit_scale
        loss = symmetric_info_nce(f, r, scale)
        on = has_sound(sound)
        if int(on.sum()) >= 2:
            a = self.embed_audio(sound[on])
            loss = loss + symmetric_info_nce(f[on], a, scale) + symmetric_info_nce(r[on], a, scale)
        return loss
