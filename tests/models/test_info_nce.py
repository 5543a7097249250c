"""info_nce and cosine_logits against slow per-row reference loops."""

from __future__ import annotations

import math

import pytest
import torch

from models.info_nce import cosine_logits, info_nce


def _slow_info_nce(logits: torch.Tensor) -> float:
    total = 0.0
    for i in range(logits.shape[0]):
        row = [float(v) for v in logits[i]]
        top = max(row)
        log_z = top + math.log(sum(math.exp(v - top) for v in row))
        total += -(row[i] - log_z)
    return total / logits.shape[0]


def test_matches_slow_reference() -> None:
    logits = torch.randn(7, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = info_nce(logits)
    assert out.shape == ()
    assert out.item() == pytest.approx(_slow_info_nce(logits), rel=1e-10)


def test_uniform_logits_give_log_batch() -> None:
    assert info_nce(torch.zeros(5, 5)).item() == pytest.approx(math.log(5), rel=1e-6)


def test_confident_diagonal_gives_near_zero_and_off_diagonal_large() -> None:
    eye = torch.eye(4) * 50
    assert info_nce(eye).item() < 1e-6
    assert info_nce(eye.roll(1, dims=1)).item() > 10


def test_rejects_non_square() -> None:
    with pytest.raises(ValueError, match="square"):
        info_nce(torch.zeros(3, 4))


def test_cosine_logits_matches_loop() -> None:
    g = torch.Generator().manual_seed(1)
    a = torch.randn(4, 6, generator=g, dtype=torch.float64)
    b = torch.randn(5, 6, generator=g, dtype=torch.float64)
    t = 0.2
    out = cosine_logits(a, b, t)
    assert out.shape == (4, 5)
    for i in range(4):
        for j in range(5):
            cos = float(a[i] @ b[j]) / (float(a[i].norm()) * float(b[j].norm()))
            assert out[i, j].item() == pytest.approx(cos / t, rel=1e-10)


def test_cosine_logits_is_scale_invariant() -> None:
    a = torch.randn(3, 4)
    torch.testing.assert_close(cosine_logits(a, a, 1.0), cosine_logits(3 * a, 0.5 * a, 1.0))
    torch.testing.assert_close(cosine_logits(a, a, 1.0).diagonal(), torch.ones(3))


def test_gradient_flows() -> None:
    a = torch.randn(4, 3, requires_grad=True)
    info_nce(cosine_logits(a, torch.randn(4, 3), 0.1)).backward()
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
