"""ConvDecoder / AutoEncoder: exact output shapes for both frame views, [0, 1] outputs, and
a few optimiser steps lower the reconstruction loss."""

from __future__ import annotations

import pytest
import torch

from models.autoencoder import AutoEncoder, ConvDecoder
from models.encoder import NatureCNN
from models.reconstruction import reconstruction_loss


@pytest.mark.parametrize("shape", [(4, 84, 84), (1, 210, 160)])
def test_round_trip_shapes(shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    c, h, w = shape
    ae = AutoEncoder(NatureCNN(c, 32, h, w), ConvDecoder(32, c, h, w))
    x = torch.randint(0, 256, (2, *shape), dtype=torch.uint8)
    with torch.no_grad():
        out = ae(x)
    assert out.shape == (2, *shape)
    assert out.dtype == torch.float32
    assert (out >= 0).all() and (out <= 1).all()


def test_decoder_feature_map_mirrors_nature_cnn() -> None:
    enc = NatureCNN(1, 32, 210, 160)
    fmap = enc.conv[:-1](torch.zeros(1, 1, 210, 160))  # conv stack before Flatten
    assert ConvDecoder(32, 1, 210, 160).map_shape == tuple(fmap.shape[1:])


def test_decoder_rejects_too_small_frames() -> None:
    with pytest.raises(ValueError, match="too small"):
        ConvDecoder(8, 1, 20, 20)


def test_loss_is_reconstruction_loss_of_forward() -> None:
    torch.manual_seed(1)
    ae = AutoEncoder(NatureCNN(1, 16, 44, 44), ConvDecoder(16, 1, 44, 44))
    x = torch.randint(0, 256, (3, 1, 44, 44), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(ae.loss(x), reconstruction_loss(ae(x), x))


def test_training_lowers_loss() -> None:
    torch.manual_seed(0)
    ae = AutoEncoder(NatureCNN(4, 32, 84, 84), ConvDecoder(32, 4, 84, 84))
    g = torch.Generator().manual_seed(0)
    # Smooth-ish frames (a bright square on a dark field) so there is structure to learn.
    x = torch.zeros(8, 4, 84, 84, dtype=torch.uint8)
    for n in range(8):
        r, c = torch.randint(0, 60, (2,), generator=g).tolist()
        x[n, :, r:r + 20, c:c + 20] = 200
    opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
    with torch.no_grad():
        before = ae.loss(x).item()
    for _ in range(15):
        opt.zero_grad()
        ae.loss(x).backward()
        opt.step()
    with torch.no_grad():
        after = ae.loss(x).item()
    assert after < 0.5 * before
