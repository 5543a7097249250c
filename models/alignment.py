"""Audio-visual correspondence as an explicit alignment task.

Arandjelovic and Zisserman 2017, "Look, Listen and Learn": learn whether a sound and a frame
belong together. Here the question is temporal, as in alignment for multimodal data
(Baltrusaitis et al. 2019): given the sound of step t, which of the frames t-w..t+w produced
it? The model embeds the sound and each candidate frame, scores the pairs by scaled cosine
similarity and is trained with cross entropy over the window; its softmax over the window is
the implicit alignment, readable per example.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class AVCorrespondence(nn.Module):
    """Scores a sound (B, S) against K candidate frames (B, K, ...) -> logits (B, K)."""

    def __init__(self, frame_encoder: nn.Module, frame_dim: int, audio_encoder: nn.Module,
                 audio_dim: int, embed_dim: int = 64, init_temperature: float = 0.1):
        super().__init__()
        if init_temperature <= 0:
            raise ValueError(f"init_temperature must be > 0, got {init_temperature}")
        self.frame_encoder = frame_encoder
        self.audio_encoder = audio_encoder
        self.frame_proj = nn.Linear(frame_dim, embed_dim)
        self.audio_proj = nn.Linear(audio_dim, embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))

    def forward(self, sound: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() < 3 or frames.shape[0] != sound.shape[0]:
            raise ValueError(f"frames must be (B, K, ...) with B = {sound.shape[0]}, got "
                             f"{tuple(frames.shape)}")
        b, k = frames.shape[:2]
        a = F.normalize(self.audio_proj(self.audio_encoder(sound)), dim=1)  # (B, E)
        f = self.frame_proj(self.frame_encoder(frames.flatten(0, 1))).view(b, k, -1)
        f = F.normalize(f, dim=2)
        return self.logit_scale.clamp(max=math.log(100.0)).exp() * torch.einsum("be,bke->bk",
                                                                                a, f)

    def loss(self, sound: torch.Tensor, frames: torch.Tensor, target: torch.Tensor
             ) -> torch.Tensor:
        """Cross entropy of the true candidate index `target` (B,) over the window."""
        return F.cross_entropy(self(sound, frames), target.long())
