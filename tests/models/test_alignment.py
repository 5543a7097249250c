"""Audio-visual correspondence: logits over the window, and learning which candidate frame
goes with a sound on a toy task."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.alignment import AVCorrespondence


def test_logits_are_scaled_cosines() -> None:
    torch.manual_seed(0)
    m = AVCorrespondence(nn.Identity(), 3, nn.Identity(), 2, embed_dim=4, init_temperature=0.5)
    sound, frames = torch.randn(2, 2), torch.randn(2, 5, 3)
    logits = m(sound, frames)
    assert logits.shape == (2, 5)
    a = nn.functional.normalize(m.audio_proj(sound), dim=1)
    f = nn.functional.normalize(m.frame_proj(frames), dim=2)
    torch.testing.assert_close(logits[1, 3], 2.0 * (a[1] @ f[1, 3]))
    with pytest.raises(ValueError, match="frames must be"):
        m(sound, frames[:1])


def test_learns_the_matching_candidate() -> None:
    # The sound is a one-hot event id; only the matching frame carries the same id.
    g = torch.Generator().manual_seed(0)
    b, k, n = 128, 5, 6
    ids = torch.randint(0, n, (b,), generator=g)
    sound = nn.functional.one_hot(ids, n).float()
    frames = torch.randn(b, k, n, generator=g) * 0.3
    target = torch.randint(0, k, (b,), generator=g)
    frames[torch.arange(b), target] += 2 * sound
    torch.manual_seed(0)
    m = AVCorrespondence(nn.Identity(), n, nn.Identity(), n, embed_dim=8)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        m.loss(sound, frames, target).backward()
        opt.step()
    acc = (m(sound, frames).argmax(1) == target).float().mean().item()
    assert acc > 0.9  # chance is 1/5
