"""Unit tests for pipelines/features/standardize.py: the one train-split standardiser."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipelines.features.standardize import STD_FLOOR, Standardizer


def _train(rows: int = 400, dtype: type = np.float32) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(loc=[5.0, -3.0, 100.0], scale=[2.0, 0.5, 30.0], size=(rows, 3)).astype(dtype)


def test_train_is_mean_zero_std_one_per_column() -> None:
    z = Standardizer.fit(_train()).transform(_train())
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-5)


def test_calling_the_instance_is_transform() -> None:
    scale = Standardizer.fit(_train())
    np.testing.assert_array_equal(scale(_train()), scale.transform(_train()))


def test_constant_column_is_centred_not_divided_by_zero() -> None:
    train = _train()
    train[:, 1] = 7.0
    scale = Standardizer.fit(train)
    assert scale.std[1] == 1.0
    z = scale.transform(train)
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z[:, 1], 0.0)
    np.testing.assert_allclose(scale.transform(np.full((2, 3), 9.0))[:, 1], 2.0)


def test_std_below_the_floor_becomes_one_and_above_is_kept() -> None:
    rng = np.random.default_rng(1)
    train = np.stack([rng.normal(scale=STD_FLOOR / 10, size=1000),
                      rng.normal(scale=STD_FLOOR * 10, size=1000)], axis=1)
    std = train.std(axis=0)
    scale = Standardizer.fit(train)
    assert scale.std[0] == 1.0
    assert scale.std[1] == std[1]
    assert Standardizer.fit(train, floor=STD_FLOOR * 100).std[1] == 1.0  # the floor is a parameter


def test_test_split_uses_the_train_statistics_only() -> None:
    train = _train()
    test = np.random.default_rng(2).normal(loc=50.0, scale=10.0, size=(50, 3))
    scale = Standardizer.fit(train)
    expected = ((test - train.mean(axis=0)) / train.std(axis=0)).astype(np.float32)
    np.testing.assert_array_equal(scale.transform(test), expected)
    assert abs(scale.transform(test).mean()) > 1.0  # not re-centred on the test split


@pytest.mark.parametrize("train_dtype", [np.float32, np.float64])
def test_statistics_follow_the_train_dtype_by_default(train_dtype: type) -> None:
    scale = Standardizer.fit(_train(dtype=train_dtype))
    assert scale.mean.dtype == train_dtype and scale.std.dtype == train_dtype
    assert scale.transform(_train(dtype=train_dtype)).dtype == np.float32


def test_dtype_float64_accumulates_float32_features_in_float64() -> None:
    train = _train(dtype=np.float32)
    scale = Standardizer.fit(train, dtype=np.float64)
    assert scale.mean.dtype == np.float64 and scale.std.dtype == np.float64
    np.testing.assert_array_equal(scale.mean, train.astype(np.float64).mean(axis=0))
    z = scale.transform(train)
    assert z.dtype == np.float32
    # the arithmetic ran in float64, then was cast: what the probes did by hand before
    expected = ((train - train.astype(np.float64).mean(axis=0))
                / train.astype(np.float64).std(axis=0)).astype(np.float32)
    np.testing.assert_array_equal(z, expected)


def test_matches_the_former_hand_written_float32_standardiser_bit_for_bit() -> None:
    train = _train()
    train[:, 0] = 1.0  # a constant column too
    test = _train(rows=30) * 2
    mean = train.mean(axis=0)
    std = np.where(train.std(axis=0) < 1e-6, 1.0, train.std(axis=0))
    scale = Standardizer.fit(train)
    for a in (train, test):
        np.testing.assert_array_equal(scale.transform(a), ((a - mean) / std).astype(np.float32))


def test_inverse_round_trips() -> None:
    train = _train()
    train[:, 2] = -4.0
    scale = Standardizer.fit(train)
    back = scale.inverse(scale.transform(train))
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, train, rtol=1e-5, atol=1e-4)
    wide = Standardizer.fit(train, dtype=np.float64)
    np.testing.assert_allclose(wide.inverse((train - wide.mean) / wide.std), train, rtol=1e-12)


def test_identity_statistics_only_cast_to_float32() -> None:
    train = _train(dtype=np.float64)
    raw = Standardizer(mean=np.zeros(3), std=np.ones(3))  # the probes' unstandardised path
    np.testing.assert_array_equal(raw.transform(train), train.astype(np.float32))


def test_is_frozen() -> None:
    scale = Standardizer.fit(_train())
    with pytest.raises(dataclasses.FrozenInstanceError):
        scale.mean = np.zeros(3)  # type: ignore[misc]
