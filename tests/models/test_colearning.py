"""Distillation loss against its definition written out, and its limits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.colearning import distillation_loss


def test_matches_the_written_out_formula() -> None:
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    y = torch.randint(0, 3, (6,), generator=g)
    temp, alpha = 3.0, 0.3
    p_t = F.softmax(t / temp, 1)
    kl = (p_t * (p_t.log() - F.log_softmax(s / temp, 1))).sum(1).mean()
    expected = (1 - alpha) * F.cross_entropy(s, y) + alpha * temp**2 * kl
    torch.testing.assert_close(distillation_loss(s, t, y, temp, alpha), expected)


def test_alpha_zero_is_cross_entropy_and_teacher_gets_no_gradient() -> None:
    s = torch.randn(4, 2, requires_grad=True)
    t = torch.randn(4, 2, requires_grad=True)
    y = torch.tensor([0, 1, 1, 0])
    torch.testing.assert_close(distillation_loss(s, t, y, alpha=0.0), F.cross_entropy(s, y))
    distillation_loss(s, t, y, alpha=1.0).backward()
    assert t.grad is None and s.grad is not None
    # the soft term vanishes when the student already matches the teacher
    assert distillation_loss(t.detach(), t, y, alpha=1.0).item() == pytest.approx(0, abs=1e-6)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="one shape"):
        distillation_loss(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2))
    with pytest.raises(ValueError, match="alpha"):
        distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2), alpha=2)
