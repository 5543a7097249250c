"""Frechet distance between two sets of feature vectors, each summarised by a Gaussian.

Heusel et al. 2017 ("GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium") define FID as this distance in the feature space of an ImageNet Inception
network. Those weights cannot be downloaded here, so arcadelab computes it in the feature space
of its own frozen frame encoder: "FD-arcadelab", comparable across runs that use the same
encoder, and not comparable to published FID numbers.

d^2 = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1^1/2 S_2 S_1^1/2)^1/2), computed with symmetric
eigendecompositions (stable for the rank-deficient covariances of small samples).
"""

from __future__ import annotations

import numpy as np


def gaussian_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> mean (D,) and covariance (D, D) (unbiased; N >= 2)."""
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need (N, D) features with N >= 2, got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray
                     ) -> float:
    """Squared Frechet distance between N(mu1, s1) and N(mu2, s2)."""
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched shapes: {mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}")
    root1 = _sqrt_psd(s1)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    d2 = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * cross)
    return max(d2, 0.0)


def frechet_between(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between the Gaussians fitted to feature sets a and b."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
