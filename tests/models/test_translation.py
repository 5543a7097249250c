"""Translation models: shapes, and the foreground-weighted MSE against a hand computation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.translation import FrameToRam, RamToFrame, foreground_weighted_mse


def test_shapes() -> None:
    torch.manual_seed(0)
    ram = torch.randint(0, 256, (2, 128), dtype=torch.uint8)
    out = RamToFrame(84, 84, feature_dim=16, hidden=32)(ram)
    assert out.shape == (2, 1, 84, 84) and out.min() >= 0 and out.max() <= 1
    assert FrameToRam(nn.Identity(), 7, 3, hidden=5)(torch.randn(4, 7)).shape == (4, 3)


def test_foreground_weighted_mse_by_hand() -> None:
    background = torch.zeros(1, 1, 1, 2)
    target = torch.tensor([[[[0.0, 1.0]]]])  # pixel 1 is foreground
    pred = torch.tensor([[[[0.5, 0.0]]]])
    # weights (1, 10): (1 * 0.25 + 10 * 1) / 11
    got = foreground_weighted_mse(pred, target, background, weight=10.0)
    assert got.item() == pytest.approx(10.25 / 11)
    plain = foreground_weighted_mse(pred, target, background, weight=1.0)
    torch.testing.assert_close(plain, nn.functional.mse_loss(pred, target))
    with pytest.raises(ValueError, match="differ"):
        foreground_weighted_mse(pred, target[..., :1], background)
    with pytest.raises(ValueError, match="weight"):
        foreground_weighted_mse(pred, target, background, weight=0.5)
