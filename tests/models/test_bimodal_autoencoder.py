"""The bimodal autoencoder: zeroing a missing modality, the training mix, and cross-modal
reconstruction learned on a toy pair where audio determines video."""

from __future__ import annotations

import pytest
import torch

from models.bimodal_autoencoder import BimodalAutoencoder, modality_dropout


def test_missing_modality_is_zeroed() -> None:
    torch.manual_seed(0)
    ae = BimodalAutoencoder(6, 4, hidden=8, latent=3)
    v, a = torch.rand(2, 6), torch.rand(2, 4)
    off = torch.tensor([False, False])
    torch.testing.assert_close(ae.encode(v, a, video_on=off),
                               ae.encode(torch.zeros_like(v), a))
    torch.testing.assert_close(ae.encode(v, a, audio_on=off),
                               ae.encode(v, torch.zeros_like(a)))
    v_hat, a_hat = ae(v, a)
    assert v_hat.shape == (2, 6) and a_hat.shape == (2, 4)
    assert v_hat.min() >= 0 and v_hat.max() <= 1
    with pytest.raises(ValueError, match="expected video"):
        ae(v[:, :5], a)


def test_modality_dropout_mix() -> None:
    v_on, a_on = modality_dropout(3000, torch.Generator().manual_seed(0))
    assert bool((v_on | a_on).all())
    for share in ((v_on & a_on).float().mean(), (v_on & ~a_on).float().mean(),
                  (~v_on & a_on).float().mean()):
        assert abs(float(share) - 1 / 3) < 0.04


def test_learns_to_reconstruct_video_from_audio_alone() -> None:
    # Audio is a one-hot of 4 classes; video is a fixed pattern per class.
    g = torch.Generator().manual_seed(0)
    cls = torch.randint(0, 4, (256,), generator=g)
    audio = torch.nn.functional.one_hot(cls, 4).float()
    patterns = torch.rand(4, 16, generator=g)
    video = patterns[cls]
    torch.manual_seed(0)
    ae = BimodalAutoencoder(16, 4, hidden=32, latent=8)
    opt = torch.optim.Adam(ae.parameters(), lr=1e-2)
    off = torch.zeros(256, dtype=torch.bool)
    with torch.no_grad():
        before = torch.mean((ae(video, audio, video_on=off)[0] - video) ** 2).item()
    for _ in range(300):
        v_on, a_on = modality_dropout(256, g)
        opt.zero_grad()
        ae.loss(video, audio, v_on, a_on).backward()
        opt.step()
    with torch.no_grad():
        after = torch.mean((ae(video, audio, video_on=off)[0] - video) ** 2).item()
    baseline = torch.mean((video - video.mean(0)) ** 2).item()
    assert after < 0.2 * baseline < before
