"""The tri-modal CLIP: audio terms only on rows with sound, and each pair aligned."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.audio import AudioEncoder
from models.clip import FrameRamCLIP, RamEncoder
from models.clip_loss import symmetric_info_nce
from models.coordinated import TriModalCLIP


def _model() -> TriModalCLIP:
    torch.manual_seed(0)
    clip = FrameRamCLIP(nn.Linear(6, 8), 8, RamEncoder(feature_dim=8, hidden=16), 8,
                        embed_dim=4)
    return TriModalCLIP(clip, AudioEncoder(feature_dim=8, hidden=16), 8, 4)


def _sound(b: int, loud: list[int]) -> torch.Tensor:
    s = torch.full((b, 512), 128, dtype=torch.uint8)
    for i in loud:
        s[i, (np.arange(512) // (4 + i)) % 2 == 0] = 188
    return s


def test_audio_terms_only_where_sound_is() -> None:
    m = _model()
    frames, ram = torch.randn(5, 6), torch.randint(0, 256, (5, 128))
    silent = _sound(5, [])
    base = symmetric_info_nce(m.embed_frames(frames), m.embed_ram(ram), m.clip.logit_scale)
    torch.testing.assert_close(m.loss(frames, ram, silent), base)
    torch.testing.assert_close(m.loss(frames, ram, _sound(5, [2])), base)  # one is not a batch
    s = _sound(5, [1, 3, 4])
    on = torch.tensor([1, 3, 4])
    a = m.embed_audio(s[on])
    expected = (base + symmetric_info_nce(m.embed_frames(frames)[on], a, m.clip.logit_scale)
                + symmetric_info_nce(m.embed_ram(ram)[on], a, m.clip.logit_scale))
    torch.testing.assert_close(m.loss(frames, ram, s), expected)
    assert m.embed_audio(s).shape == (5, 4)
