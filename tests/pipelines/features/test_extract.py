"""Unit tests for pipelines/features/extract.py: the one frozen-feature extractor."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from models.encoder import EncoderSpec, build_encoder
from pipelines.features.extract import encode, rebuild_encoder


class ChannelMeans(nn.Module):
    """A stand-in encoder whose features are checkable by hand: each channel's mean pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert not torch.is_grad_enabled(), "frozen features are computed without autograd"
        return x.float().mean(dim=(2, 3)) * self.scale


def _obs(n: int = 10) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 2, 3, 4), dtype=np.uint8)


def test_features_in_row_order_as_float32_whatever_the_chunk_size() -> None:
    obs = _obs()
    expected = obs.astype(np.float64).mean(axis=(2, 3))
    for batch_size in (1, 3, 10, 512):
        x = encode(ChannelMeans(), obs, batch_size=batch_size)
        assert x.dtype == np.float32 and x.shape == (10, 2)
        np.testing.assert_allclose(x, expected, rtol=1e-6)


def test_leaves_the_encoder_in_eval_mode() -> None:
    enc = ChannelMeans().train()
    encode(enc, _obs())
    assert not enc.training


def test_read_only_and_strided_observations_encode_without_a_warning() -> None:
    obs = _obs()
    frozen = obs.copy()
    frozen.setflags(write=False)  # as Ray Data's batches and np.frombuffer's frames arrive
    strided = np.asfortranarray(obs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for view in (frozen, strided):
            np.testing.assert_array_equal(encode(ChannelMeans(), view, 4),
                                          encode(ChannelMeans(), obs, 4))


def test_no_rows_give_no_features() -> None:
    x = encode(ChannelMeans(), _obs(0))
    assert x.shape == (0, 2) and x.dtype == np.float32


def test_bad_batch_size_is_refused() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        encode(ChannelMeans(), _obs(), batch_size=0)


def test_rebuilt_encoder_gives_the_same_features() -> None:
    spec = EncoderSpec(arch="small_cnn", in_channels=2, height=44, width=44, feature_dim=8)
    torch.manual_seed(0)
    original = build_encoder(spec)
    copy = rebuild_encoder(spec, original.state_dict())
    assert not copy.training
    obs = np.random.default_rng(1).integers(0, 256, (5, 2, 44, 44), dtype=np.uint8)
    np.testing.assert_array_equal(encode(copy, obs), encode(original, obs))
