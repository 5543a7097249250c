"""MultiHeadClassifier: (B, heads, classes) logits, heads independent, loss the mean of
per-head cross entropies, and training lowers it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.encoder import NatureCNN
from models.supervised import MultiHeadClassifier


def _model(num_heads: int = 3, num_classes: int = 256) -> MultiHeadClassifier:
    torch.manual_seed(0)
    return MultiHeadClassifier(NatureCNN(1, 32, 44, 44), 32, num_heads, num_classes)


def _frames(b: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 1, 44, 44), generator=g, dtype=torch.uint8)


def test_forward_shape_and_per_head_linear_maps() -> None:
    model = _model(num_heads=3, num_classes=10)
    x = _frames(4)
    with torch.no_grad():
        logits = model(x)
        feats = model.encoder(x)
    assert logits.shape == (4, 3, 10)
    w, b = model.heads.weight, model.heads.bias
    for h in range(3):
        expected = feats @ w[h * 10:(h + 1) * 10].T + b[h * 10:(h + 1) * 10]
        torch.testing.assert_close(logits[:, h], expected)


def test_loss_is_mean_of_per_head_cross_entropy() -> None:
    model = _model()
    x = _frames()
    labels = torch.randint(0, 256, (8, 3), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(x)
        loss = model.loss(x, labels)
    per_head = [F.cross_entropy(logits[:, h], labels[:, h]) for h in range(3)]
    assert loss.shape == ()
    torch.testing.assert_close(loss, torch.stack(per_head).mean())


def test_rejects_bad_label_shape() -> None:
    model = _model()
    with pytest.raises(ValueError, match="labels"):
        model.loss(_frames(), torch.zeros(8, 2, dtype=torch.long))


def test_training_lowers_loss() -> None:
    model = _model(num_heads=4)
    x = _frames(16)
    labels = torch.randint(0, 256, (16, 4), generator=torch.Generator().manual_seed(2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch.no_grad():
        before = model.loss(x, labels).item()
    for _ in range(20):
        opt.zero_grad()
        model.loss(x, labels).backward()
        opt.step()
    with torch.no_grad():
        after = model.loss(x, labels).item()
    assert after < 0.7 * before
