"""Frechet distance against closed forms and scipy's matrix square root."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from pipelines.generative.frechet import frechet_between, frechet_distance, gaussian_stats


def test_one_dimensional_closed_form() -> None:
    # d^2 = (m1 - m2)^2 + (s1 - s2)^2 for 1-D Gaussians
    d = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]]))
    assert d == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)


def test_matches_scipy_sqrtm() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 5))
    b = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5)) + 1.0
    (m1, s1), (m2, s2) = gaussian_stats(a), gaussian_stats(b)
    ref = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-6)
    assert frechet_between(a, b) == pytest.approx(ref, rel=1e-6)


def test_identical_sets_and_errors() -> None:
    x = np.random.default_rng(1).normal(size=(10, 20))  # rank-deficient covariance
    assert frechet_between(x, x) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_stats(x[:1])
    with pytest.raises(ValueError, match="mismatched"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
