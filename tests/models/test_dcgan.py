"""DCGAN: shapes through every layer size, DCGAN's init, the losses by hand, and one round of
alternating updates moving each player the right way."""

from __future__ import annotations

import math

import pytest
import torch

from models.dcgan import Discriminator, Generator, discriminator_loss, generator_loss


def test_shapes_and_range() -> None:
    torch.manual_seed(0)
    g, d = Generator(z_dim=8, width=4), Discriminator(width=4)
    frames = g(torch.randn(3, 8))
    assert frames.shape == (3, 1, 84, 84) and frames.min() >= 0 and frames.max() <= 1
    assert d(frames).shape == (3,)
    assert d(torch.randint(0, 256, (2, 1, 84, 84), dtype=torch.uint8)).shape == (2,)
    with pytest.raises(ValueError, match="z must be"):
        g(torch.randn(3, 7))
    with pytest.raises(ValueError, match="frames must be"):
        d(torch.rand(2, 1, 64, 64))


def test_init_follows_dcgan() -> None:
    torch.manual_seed(0)
    w = torch.cat([m.weight.flatten() for m in Discriminator(width=8).modules()
                   if isinstance(m, torch.nn.Conv2d)])
    assert abs(w.mean().item()) < 2e-3 and w.std().item() == pytest.approx(0.02, rel=0.05)


def test_losses_by_hand() -> None:
    zero = torch.zeros(4)
    assert discriminator_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert generator_loss(zero).item() == pytest.approx(math.log(2))
    big = torch.full((4,), 20.0)
    assert discriminator_loss(big, -big).item() == pytest.approx(0, abs=1e-6)


def test_alternating_updates() -> None:
    torch.manual_seed(0)
    g, d = Generator(z_dim=8, width=4), Discriminator(width=4)
    real = torch.zeros(16, 1, 84, 84)
    real[:, :, 30:50, 30:50] = 1.0
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-3, betas=(0.5, 0.999))
    z = torch.randn(16, 8)
    for _ in range(5):
        opt_d.zero_grad()
        d_loss = discriminator_loss(d(real), d(g(z).detach()))
        d_loss.backward()
        opt_d.step()
    assert d_loss.item() < 2 * math.log(2)  # D tells real from fake
    with torch.no_grad():
        before = generator_loss(d(g(z))).item()
    for _ in range(5):
        opt_g.zero_grad()
        generator_loss(d(g(z))).backward()
        opt_g.step()
    with torch.no_grad():
        assert generator_loss(d(g(z))).item() < before  # G fools the fixed D more
