"""Hard and soft parameter sharing: shapes, losses against cross entropy per task, and the
soft-sharing penalty against the pairwise definition."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from models.multitask import HardSharing, SoftSharing, soft_sharing_penalty


def _enc() -> nn.Module:
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU())


def test_hard_sharing_loss_is_the_sum_of_task_losses() -> None:
    torch.manual_seed(0)
    m = HardSharing(_enc(), 4, tasks=3, num_classes=7)
    x, y = torch.randn(6, 5), torch.randint(0, 7, (6, 3))
    logits = m(x)
    assert logits.shape == (6, 3, 7)
    expected = sum(F.cross_entropy(logits[:, t], y[:, t]) for t in range(3))
    torch.testing.assert_close(m.loss(x, y), expected)
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        m.loss(x, y[:, :2])


def test_penalty_equals_pairwise_distance_over_t() -> None:
    torch.manual_seed(0)
    models = [_enc() for _ in range(3)]
    pairwise = sum(sum(((p - q) ** 2).sum() for p, q in zip(a.parameters(), b.parameters(),
                                                            strict=True))
                   for a, b in itertools.combinations(models, 2))
    torch.testing.assert_close(soft_sharing_penalty(models), pairwise / 3)
    same = _enc()
    assert soft_sharing_penalty([same, same]).item() == 0
    with pytest.raises(ValueError, match="two models"):
        soft_sharing_penalty(models[:1])


def test_soft_sharing_loss_and_coupling_pulls_encoders_together() -> None:
    torch.manual_seed(0)
    m = SoftSharing(_enc, 4, tasks=2, num_classes=3, penalty=0.5)
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8, 2))
    logits = m(x)
    assert logits.shape == (8, 2, 3)
    expected = (F.cross_entropy(logits[:, 0], y[:, 0]) + F.cross_entropy(logits[:, 1], y[:, 1])
                + 0.5 * soft_sharing_penalty(m.encoders))
    torch.testing.assert_close(m.loss(x, y), expected)
    strong = SoftSharing(_enc, 4, tasks=2, num_classes=3, penalty=10.0)
    opt = torch.optim.SGD(strong.parameters(), lr=0.02)
    before = soft_sharing_penalty(strong.encoders).item()
    for _ in range(50):
        opt.zero_grad()
        strong.loss(x, y).backward()
        opt.step()
    assert soft_sharing_penalty(strong.encoders).item() < 0.1 * before
