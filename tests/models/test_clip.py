"""RamEncoder's bit unpacking against numpy, FrameRamCLIP's shapes and temperature, and a
few optimiser steps that align frames with their RAM."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.clip import FrameRamCLIP, RamEncoder
from models.clip_loss import symmetric_info_nce
from models.encoder import NatureCNN


def _ram(b: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 128), generator=g, dtype=torch.uint8)


def test_unpack_matches_numpy_unpackbits() -> None:
    ram = _ram()
    enc = RamEncoder(feature_dim=16, hidden=32)
    feats = enc.unpack(ram)
    assert feats.shape == (8, 128 * 9)
    bits = np.unpackbits(ram.numpy(), axis=1, bitorder="little").astype(np.float32)
    np.testing.assert_array_equal(feats[:, :1024].numpy(), bits)
    torch.testing.assert_close(feats[:, 1024:], ram.float() / 255.0)


def test_unpack_hand_example() -> None:
    ram = torch.zeros(1, 128, dtype=torch.uint8)
    ram[0, 0] = 0b00000101  # 5: bits 0 and 2
    ram[0, 1] = 255
    feats = RamEncoder(feature_dim=4, hidden=8).unpack(ram)
    assert feats[0, :8].tolist() == [1, 0, 1, 0, 0, 0, 0, 0]
    assert feats[0, 8:16].tolist() == [1] * 8
    assert feats[0, 16:1024].sum().item() == 0
    assert feats[0, 1024].item() == pytest.approx(5 / 255)
    assert feats[0, 1025].item() == 1.0


def test_ram_encoder_accepts_int64_and_rejects_floats_and_bad_shapes() -> None:
    enc = RamEncoder(feature_dim=16, hidden=32)
    ram = _ram(3)
    out = enc(ram)
    assert out.shape == (3, 16)
    torch.testing.assert_close(enc(ram.long()), out)
    with pytest.raises(ValueError, match="integer"):
        enc(ram.float())
    with pytest.raises(ValueError, match="expects"):
        enc(ram[:, :64])


def _model() -> FrameRamCLIP:
    torch.manual_seed(0)
    return FrameRamCLIP(NatureCNN(1, 32, 44, 44), 32, RamEncoder(feature_dim=32, hidden=64), 32,
                        embed_dim=16, init_temperature=0.07)


def test_shapes_temperature_and_loss() -> None:
    model = _model()
    assert model.logit_scale.item() == pytest.approx(math.log(1 / 0.07), rel=1e-6)
    frames = torch.randint(0, 256, (5, 1, 44, 44), dtype=torch.uint8)
    ram = _ram(5)
    f, r = model.embed_frames(frames), model.embed_ram(ram)
    assert f.shape == (5, 16) and r.shape == (5, 16)
    loss = model.loss(frames, ram)
    assert loss.shape == ()
    torch.testing.assert_close(loss, symmetric_info_nce(f, r, model.logit_scale))
    loss.backward()
    assert model.logit_scale.grad is not None and model.logit_scale.grad != 0


def test_training_lowers_loss() -> None:
    model = _model()
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (16, 1, 44, 44), generator=g, dtype=torch.uint8)
    ram = _ram(16, seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch.no_grad():
        before = model.loss(frames, ram).item()
    for _ in range(15):
        opt.zero_grad()
        model.loss(frames, ram).backward()
        opt.step()
    with torch.no_grad():
        after = model.loss(frames, ram).item()
    assert after < 0.5 * before
