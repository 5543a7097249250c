"""Prototypes and logits against hand computations; episodic training separates classes."""

from __future__ import annotations

import pytest
import torch

from models.prototypical import (
    ProtoNet,
    class_prototypes,
    prototype_logits,
    prototypical_loss,
)


def test_prototypes_and_logits_by_hand() -> None:
    support = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    labels = torch.tensor([0, 0, 1])
    protos = class_prototypes(support, labels, 2)
    torch.testing.assert_close(protos, torch.tensor([[1.0, 0.0], [0.0, 4.0]]))
    logits = prototype_logits(torch.tensor([[1.0, 1.0]]), protos)
    torch.testing.assert_close(logits, torch.tensor([[-1.0, -10.0]]))
    with pytest.raises(ValueError, match="needs a support example"):
        class_prototypes(support, labels, 3)


def test_episodic_training_lowers_loss() -> None:
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(3, 10, generator=g) * 2
    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(3).repeat_interleave(n)
        return centers[y] + torch.randn(3 * n, 10, generator=g), y
    torch.manual_seed(0)
    net = ProtoNet(10, 32, 8)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        (s, sy), (q, qy) = sample(5), sample(5)
        loss = prototypical_loss(net(s), sy, net(q), qy, 3)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10
