"""Acquisition functions for pool-based active learning: which unlabelled frames to label next.

Every score is a pure function of class probabilities (or features) and is "higher = more
worth labelling", so one `top_k` picks any strategy's batch. Probabilities are (N, C) for one
classifier or (N, L, C) for L label heads (ball x, ball y, paddle y); per-head scores are
averaged over heads. MC-dropout samples stack a leading axis: (T, N, C) or (T, N, L, C).

- least confidence, margin, entropy: Settles 2009, "Active Learning Literature Survey" (§3.1).
- BALD: Houlsby et al. 2011; with MC dropout, Gal, Islam & Ghahramani 2017.
- k-center greedy (core-set): Sener & Savarese 2018; batch-aware: each pick moves the
  coverage, so near-duplicate frames (consecutive Atari steps) are not picked together.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

STRATEGIES = ("random", "least_confidence", "margin", "entropy", "bald", "coreset")
# Strategies scored from a deterministic forward pass / from MC-dropout samples / from
# embeddings (batch-aware, needs the labelled set) / from nothing.
PROB_STRATEGIES = ("least_confidence", "margin", "entropy")
MC_STRATEGIES = ("bald",)
EMBED_STRATEGIES = ("coreset",)


def _check_probs(p: np.ndarray, lead: int = 0) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim not in (2 + lead, 3 + lead):
        raise ValueError(f"probabilities must have {2 + lead} or {3 + lead} dims "
                         f"((N, C) or (N, L, C){' after T' if lead else ''}), got {p.shape}")
    if p.shape[-1] < 2:
        raise ValueError(f"need at least 2 classes, got {p.shape[-1]}")
    return p


def _mean_heads(scores: np.ndarray) -> np.ndarray:
    """(N,) stays, (N, L) -> mean over label heads."""
    return scores if scores.ndim == 1 else scores.mean(axis=1)


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """1 - max_c p(c): how far the top class is from certain. (N,) in [0, 1 - 1/C]."""
    p = _check_probs(probs)
    return _mean_heads(1.0 - p.max(axis=-1))


def margin(probs: np.ndarray) -> np.ndarray:
    """1 - (p_top1 - p_top2): a small gap between the two best classes is a doubt. (N,) in
    [0, 1]."""
    p = _check_probs(probs)
    top2 = np.partition(p, -2, axis=-1)[..., -2:]
    return _mean_heads(1.0 - (top2[..., 1] - top2[..., 0]))


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy of the predictive distribution in nats. (N,) in [0, log C]."""
    p = _check_probs(probs)
    return _mean_heads(_entropy(p))


def _entropy(p: np.ndarray) -> np.ndarray:
    # 0 log 0 = 0, and p = 1 gives exactly 0 (an epsilon inside the log would dip below zero).
    return -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=-1)


def bald(mc_probs: np.ndarray) -> np.ndarray:
    """Mutual information between prediction and weights from T MC-dropout samples:
    H[mean_t p_t] - mean_t H[p_t]. Large where passes disagree, not where they agree on a
    flat distribution. (N,) >= 0."""
    p = _check_probs(mc_probs, lead=1)
    if p.shape[0] < 1:
        raise ValueError("need at least one MC sample")
    mi = _entropy(p.mean(axis=0)) - _entropy(p).mean(axis=0)
    return _mean_heads(np.maximum(mi, 0.0))  # rounding can dip a hair below zero


def random_scores(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random scores: `top_k` of them is a uniform sample without replacement."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return rng.random(n)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first; ties go to the lower index."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    k = min(k, scores.size)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    order = np.lexsort((np.arange(scores.size), -scores))  # by -score, then by index
    return order[:k].astype(np.int64)


def min_sq_distances(points: np.ndarray, centers: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Squared Euclidean distance from each point (N, D) to its nearest center (M, D); +inf
    for every point when there are no centers. Chunked so memory stays N x chunk."""
    points = np.asarray(points, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    if points.ndim != 2 or centers.ndim != 2 or (centers.size and
                                                 centers.shape[1] != points.shape[1]):
        raise ValueError(f"points (N, D) and centers (M, D) expected, got {points.shape} and "
                         f"{centers.shape}")
    out = np.full(points.shape[0], np.inf)
    pn = (points ** 2).sum(1)
    for start in range(0, centers.shape[0], chunk):
        c = centers[start:start + chunk]
        d = pn[:, None] - 2.0 * points @ c.T + (c ** 2).sum(1)[None, :]
        out = np.minimum(out, d.min(axis=1))
    return np.maximum(out, 0.0)  # the expansion can round a hair below zero


def k_center_greedy(points: np.ndarray, k: int, min_dist: np.ndarray | None = None,
                    centers: np.ndarray | None = None) -> np.ndarray:
    """Farthest-first traversal (the 2-approximate k-center / core-set selection): repeatedly
    pick the pool point farthest from everything labelled or picked so far.

    points: (N, D) unlabelled pool; either `min_dist` (N,) squared distances to the labelled
    set (computed elsewhere, e.g. in parallel shards) or `centers` (M, D) the labelled points.
    With neither (a cold start), the first pick is point 0. Returns k distinct indices.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2:
        raise ValueError(f"points must be (N, D), got {points.shape}")
    if min_dist is None:
        min_dist = (min_sq_distances(points, centers) if centers is not None and len(centers)
                    else np.full(points.shape[0], np.inf))
    d = np.array(min_dist, dtype=np.float64)
    if d.shape != (points.shape[0],):
        raise ValueError(f"min_dist must have shape ({points.shape[0]},), got {d.shape}")
    k = min(max(k, 0), points.shape[0])
    picked = np.zeros(k, dtype=np.int64)
    for i in range(k):
        j = int(np.argmax(d))  # +inf (cold start) -> index 0; ties -> lowest index
        picked[i] = j
        d = np.minimum(d, ((points - points[j]) ** 2).sum(1))
        d[j] = -1.0  # never again, even when duplicates put other points at distance 0
    return picked


SCORERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "least_confidence": least_confidence, "margin": margin, "entropy": entropy, "bald": bald}


def check_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise ValueError(f"unknown acquisition strategy {name!r} (known: {', '.join(STRATEGIES)})")
    return name
