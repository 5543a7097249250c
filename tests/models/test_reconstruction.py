"""reconstruction_loss: uint8 targets are scaled to [0, 1]; float targets are used as is."""

from __future__ import annotations

import pytest
import torch

from models.reconstruction import reconstruction_loss


def test_uint8_and_float_targets_agree() -> None:
    g = torch.Generator().manual_seed(0)
    target_u8 = torch.randint(0, 256, (3, 1, 5, 4), generator=g, dtype=torch.uint8)
    recon = torch.rand(3, 1, 5, 4, generator=g)
    a = reconstruction_loss(recon, target_u8)
    b = reconstruction_loss(recon, target_u8.float() / 255.0)
    assert a.shape == ()
    torch.testing.assert_close(a, b)


def test_hand_values() -> None:
    recon = torch.tensor([[0.0, 1.0], [0.5, 0.5]])
    assert reconstruction_loss(recon, torch.tensor([[0, 255], [0, 255]], dtype=torch.uint8)) \
        .item() == pytest.approx((0 + 0 + 0.25 + 0.25) / 4)
    assert reconstruction_loss(recon, recon.clone()).item() == 0.0


def test_perfect_uint8_reconstruction_is_zero() -> None:
    t = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert reconstruction_loss(t.float() / 255.0, t).item() == pytest.approx(0.0, abs=1e-12)


def test_rejects_shape_mismatch_and_integer_recon() -> None:
    with pytest.raises(ValueError, match="differ"):
        reconstruction_loss(torch.zeros(2, 3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="float"):
        reconstruction_loss(torch.zeros(2, dtype=torch.uint8), torch.zeros(2))
