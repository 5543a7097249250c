"""The sound encoder's spectrum against numpy, silence detection, shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.audio import AudioEncoder, has_sound, log_spectrum


def _square(period: int, n: int = 512, phase: int = 0) -> np.ndarray:
    t = np.arange(n) + phase
    return np.where((t // (period // 2)) % 2 == 0, 188, 128).astype(np.uint8)


def test_log_spectrum_matches_numpy() -> None:
    wave = np.stack([_square(32), _square(64, phase=5)])
    x = (wave.astype(np.float64) - 128) / 128
    x -= x.mean(axis=1, keepdims=True)
    expected = np.log1p(np.abs(np.fft.rfft(x, axis=1)))
    got = log_spectrum(torch.from_numpy(wave))
    assert got.shape == (2, 257)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_pitch_is_a_peak_and_phase_does_not_move_it() -> None:
    a = log_spectrum(torch.from_numpy(np.stack([_square(32), _square(32, phase=7)])))
    assert a[0].argmax().item() == 512 // 32 == a[1].argmax().item()


def test_silence_is_all_zero_whatever_its_level() -> None:
    silent = torch.stack([torch.full((512,), 128, dtype=torch.uint8),
                          torch.zeros(512, dtype=torch.uint8)])
    assert torch.equal(log_spectrum(silent), torch.zeros(2, 257))
    sound = torch.cat([silent, torch.from_numpy(_square(32))[None]])
    assert has_sound(sound).tolist() == [False, False, True]


def test_encoder_shapes_and_errors() -> None:
    enc = AudioEncoder(feature_dim=8, hidden=16)
    out = enc(torch.randint(0, 256, (3, 512), dtype=torch.uint8))
    assert out.shape == (3, 8)
    with pytest.raises(ValueError, match=r"\(B, 512\)"):
        enc(torch.zeros(3, 256, dtype=torch.uint8))
    with pytest.raises(ValueError, match="sound must be"):
        has_sound(torch.zeros(512))
