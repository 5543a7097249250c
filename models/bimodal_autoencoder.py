"""Bimodal deep autoencoder: one shared code for two modalities, reconstructing both from
either one or both.

Ngiam et al. 2011, "Multimodal Deep Learning" (audio-visual speech): each modality has its own
first layer, a shared layer joins them, and both modalities are decoded from the shared code.
Training zeroes one modality's input for part of the examples (a third video-only, a third
audio-only in the paper) while still asking for both outputs, so the shared code learns to
stand in for a missing modality: cross-modal reconstruction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BimodalAutoencoder(nn.Module):
    """video (B, Dv) in [0, 1] and audio (B, Da) -> shared code (B, latent) -> both again."""

    def __init__(self, video_dim: int, audio_dim: int, hidden: int = 256, latent: int = 64):
        super().__init__()
        self.video_dim, self.audio_dim = video_dim, audio_dim
        self.enc_video = nn.Sequential(nn.Linear(video_dim, hidden), nn.ReLU())
        self.enc_audio = nn.Sequential(nn.Linear(audio_dim, hidden), nn.ReLU())
        self.shared = nn.Sequential(nn.Linear(2 * hidden, latent), nn.ReLU())
        self.dec_video = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(),
                                       nn.Linear(hidden, video_dim), nn.Sigmoid())
        self.dec_audio = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(),
                                       nn.Linear(hidden, audio_dim))

    def encode(self, video: torch.Tensor, audio: torch.Tensor,
               video_on: torch.Tensor | None = None, audio_on: torch.Tensor | None = None
               ) -> torch.Tensor:
        """Shared code; rows where `video_on` / `audio_on` (B,) is False get that modality's
        input zeroed, as Ngiam et al. present a missing modality."""
        if video.shape[1:] != (self.video_dim,) or audio.shape[1:] != (self.audio_dim,):
            raise ValueError(f"expected video (B, {self.video_dim}) and audio (B, "
                             f"{self.audio_dim}), got {tuple(video.shape)}, {tuple(audio.shape)}")
        if video_on is not None:
            video = video * video_on[:, None].to(video.dtype)
        if audio_on is not None:
            audio = audio * audio_on[:, None].to(audio.dtype)
        return self.shared(torch.cat([self.enc_video(video), self.enc_audio(audio)], dim=1))

    def forward(self, video: torch.Tensor, audio: torch.Tensor,
                video_on: torch.Tensor | None = None, audio_on: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (video reconstruction in [0, 1], audio reconstruction)."""
        code = self.encode(video, audio, video_on, audio_on)
        return self.dec_video(code), self.dec_audio(code)

    def loss(self, video: torch.Tensor, audio: torch.Tensor, video_on: torch.Tensor,
             audio_on: torch.Tensor) -> torch.Tensor:
        """MSE of both reconstructions against both full inputs, whatever was shown."""
        v_hat, a_hat = self(video, audio, video_on, audio_on)
        return F.mse_loss(v_hat, video) + F.mse_loss(a_hat, audio)


def modality_dropout(batch: int, generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Ngiam et al.'s training mix: each row shows both modalities, video only or audio only,
    a third each in expectation. -> (video_on, audio_on), (B,) bool each, never both False."""
    kind = torch.randint(0, 3, (batch,), generator=generator)
    return kind != 2, kind != 1
