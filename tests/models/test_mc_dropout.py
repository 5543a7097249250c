"""MCDropoutHead: shapes, probabilities, dropout on only where asked, mode restored."""

from __future__ import annotations

import pytest
import torch

from models.mc_dropout import MCDropoutHead


def _head(dropout: float = 0.5) -> MCDropoutHead:
    torch.manual_seed(0)
    return MCDropoutHead(in_dim=8, num_labels=3, num_classes=5, hidden=16, dropout=dropout)


def test_shapes_and_probabilities() -> None:
    head, x = _head(), torch.randn(4, 8)
    assert head(x).shape == (4, 3, 5)
    p = head.probs(x)
    torch.testing.assert_close(p.sum(-1), torch.ones(4, 3))
    mc = head.mc_probs(x, 7)
    assert mc.shape == (7, 4, 3, 5)
    torch.testing.assert_close(mc.sum(-1), torch.ones(7, 4, 3))
    assert head.embed(x).shape == (4, 16)


def test_mc_samples_differ_only_with_dropout_and_eval_is_deterministic() -> None:
    x = torch.randn(6, 8)
    head = _head(0.5)
    mc = head.mc_probs(x, 4)
    assert not torch.allclose(mc[0], mc[1])
    torch.testing.assert_close(head.probs(x), head.probs(x))
    still = _head(0.0).mc_probs(x, 3)
    torch.testing.assert_close(still[0], still[2])


@pytest.mark.parametrize("start_training", [True, False])
def test_prediction_helpers_restore_the_mode(start_training: bool) -> None:
    head, x = _head(), torch.randn(2, 8)
    head.train(start_training)
    head.probs(x)
    head.mc_probs(x, 2)
    head.embed(x)
    assert head.training is start_training


def test_loss_is_mean_of_per_example_losses_and_training_lowers_it() -> None:
    head = _head(0.0)
    x, y = torch.randn(32, 8), torch.randint(0, 5, (32, 3))
    torch.testing.assert_close(head.loss(x, y), head.per_example_loss(x, y).mean())
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    first = head.loss(x, y).item()
    for _ in range(100):
        opt.zero_grad()
        head.loss(x, y).backward()
        opt.step()
    assert head.loss(x, y).item() < 0.5 * first
    with pytest.raises(ValueError, match="labels must be"):
        head.loss(x, y[:, :2])


@pytest.mark.parametrize("kwargs", [{"dropout": 1.0}, {"hidden": 0}, {"dropout": -0.1}])
def test_bad_arguments_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        MCDropoutHead(**{"in_dim": 4, "num_labels": 1, **kwargs})
    with pytest.raises(ValueError, match="samples"):
        _head().mc_probs(torch.randn(1, 8), 0)
