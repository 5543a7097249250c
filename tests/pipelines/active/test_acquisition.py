"""Acquisition scores: hand-computed values, modAL as the peer on the same probabilities, slow
reference loops for BALD and k-center greedy, and properties over generated inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipelines.active import acquisition as acq


class FixedProbs:
    """A modAL-style classifier whose predict_proba returns given rows (X holds row ids)."""

    def __init__(self, probs: np.ndarray):
        self.probs = probs

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.probs[np.asarray(x).ravel().astype(int)]


def _dirichlet(n: int, c: int, seed: int, alpha: float = 0.5) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.full(c, alpha), size=n)


probs_st = st.builds(_dirichlet, st.integers(1, 40), st.integers(2, 12), st.integers(0, 10_000),
                     st.sampled_from([0.05, 0.5, 1.0, 5.0]))


def test_hand_computed_scores() -> None:
    p = np.array([[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(acq.least_confidence(p), [0.3, 2 / 3, 0.0])
    np.testing.assert_allclose(acq.margin(p), [0.5, 1.0, 0.0])
    h = -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1))
    np.testing.assert_allclose(acq.entropy(p), [h, math.log(3), 0.0], atol=1e-9)


def test_bald_agreeing_samples_carry_no_information_disagreeing_ones_do() -> None:
    agree = np.array([[[0.5, 0.5]], [[0.5, 0.5]]])  # (T=2, N=1, C=2): unsure, but consistent
    disagree = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # each sure, of opposite classes
    np.testing.assert_allclose(acq.bald(agree), [0.0], atol=1e-9)
    np.testing.assert_allclose(acq.bald(disagree), [math.log(2)], atol=1e-9)
    # Entropy of the mean cannot tell them apart; BALD can.
    np.testing.assert_allclose(acq.entropy(agree.mean(0)), acq.entropy(disagree.mean(0)))


@settings(max_examples=40, deadline=None)
@given(probs_st)
def test_least_confidence_margin_entropy_match_modal(p: np.ndarray) -> None:
    from modAL.uncertainty import classifier_entropy, classifier_margin, classifier_uncertainty

    clf, x = FixedProbs(p), np.arange(len(p))[:, None]
    np.testing.assert_allclose(acq.least_confidence(p), classifier_uncertainty(clf, x),
                               atol=1e-12)
    np.testing.assert_allclose(acq.margin(p), 1.0 - classifier_margin(clf, x), atol=1e-12)
    np.testing.assert_allclose(acq.entropy(p), classifier_entropy(clf, x), atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(probs_st, st.integers(1, 10))
def test_top_k_of_margin_is_modals_margin_sampling_batch(p: np.ndarray, k: int) -> None:
    from modAL.uncertainty import margin_sampling

    k = min(k, len(p))
    scores = acq.margin(p)
    ours = acq.top_k(scores, k)
    theirs = np.asarray(margin_sampling(FixedProbs(p), np.arange(len(p))[:, None],
                                        n_instances=k)[0])
    # Same set of frames up to ties at the k-th score.
    kth = np.sort(scores)[::-1][k - 1]
    assert set(ours[scores[ours] > kth + 1e-12]) <= set(theirs)
    np.testing.assert_allclose(np.sort(scores[ours]), np.sort(scores[theirs]), atol=1e-12)


def _bald_reference(mc: np.ndarray) -> np.ndarray:
    """Slow loop over frames and samples: H[mean] - mean H."""
    t, n, c = mc.shape
    out = np.zeros(n)
    for i in range(n):
        mean = [sum(mc[s, i, j] for s in range(t)) / t for j in range(c)]
        h_mean = -sum(m * math.log(m) for m in mean if m > 0)
        h_each = [-sum(q * math.log(q) for q in mc[s, i] if q > 0) for s in range(t)]
        out[i] = h_mean - sum(h_each) / t
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(1, 12), st.integers(2, 6), st.integers(0, 10_000))
def test_bald_matches_reference_loop_and_is_bounded(t: int, n: int, c: int, seed: int) -> None:
    mc = np.random.default_rng(seed).dirichlet(np.full(c, 0.7), size=(t, n))
    ours = acq.bald(mc)
    np.testing.assert_allclose(ours, _bald_reference(mc), atol=1e-9)
    assert np.all(ours >= 0)
    assert np.all(ours <= acq.entropy(mc.mean(0)) + 1e-12)


@settings(max_examples=40, deadline=None)
@given(probs_st)
def test_score_ranges(p: np.ndarray) -> None:
    c = p.shape[1]
    for score, hi in ((acq.least_confidence(p), 1 - 1 / c), (acq.margin(p), 1.0),
                      (acq.entropy(p), math.log(c))):
        assert score.shape == (len(p),)
        assert np.all(score >= -1e-12) and np.all(score <= hi + 1e-9)


def test_multi_head_scores_average_the_heads() -> None:
    heads = np.stack([_dirichlet(6, 5, 1), _dirichlet(6, 5, 2), _dirichlet(6, 5, 3)], axis=1)
    for fn in (acq.least_confidence, acq.margin, acq.entropy):
        expected = np.mean([fn(heads[:, i]) for i in range(3)], axis=0)
        np.testing.assert_allclose(fn(heads), expected)
    mc = np.stack([heads, heads[::-1]])  # (T=2, N, L, C)
    np.testing.assert_allclose(acq.bald(mc), np.mean([acq.bald(mc[:, :, i]) for i in range(3)],
                                                     axis=0))


@pytest.mark.parametrize("bad", [np.ones(3), np.ones((2, 1)), np.ones((1, 2, 3, 4, 5))])
def test_bad_probability_shapes_raise(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        acq.margin(bad)


def test_top_k_orders_best_first_and_breaks_ties_by_index() -> None:
    s = np.array([0.1, 0.9, 0.5, 0.9, 0.2])
    np.testing.assert_array_equal(acq.top_k(s, 3), [1, 3, 2])
    np.testing.assert_array_equal(acq.top_k(s, 10), [1, 3, 2, 4, 0])
    assert acq.top_k(s, 0).size == 0
    with pytest.raises(ValueError, match="NaN"):
        acq.top_k(np.array([0.1, np.nan]), 1)
    with pytest.raises(ValueError):
        acq.top_k(s, -1)


def test_random_scores_give_a_uniform_sample_without_replacement() -> None:
    rng = np.random.default_rng(0)
    counts = np.zeros(10)
    for _ in range(2000):
        pick = acq.top_k(acq.random_scores(10, rng), 3)
        assert len(set(pick)) == 3
        counts[pick] += 1
    np.testing.assert_allclose(counts / counts.sum(), 0.1, atol=0.02)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 30), st.just(3)),
              elements=st.floats(-100, 100)),
       arrays(np.float64, st.tuples(st.integers(0, 10), st.just(3)),
              elements=st.floats(-100, 100)))
def test_min_sq_distances_matches_brute_force(points: np.ndarray, centers: np.ndarray) -> None:
    got = acq.min_sq_distances(points, centers, chunk=3)
    if len(centers) == 0:
        assert np.all(np.isinf(got))
        return
    brute = ((points[:, None, :] - centers[None]) ** 2).sum(-1).min(1)
    np.testing.assert_allclose(got, brute, rtol=1e-7, atol=1e-6)


def _k_center_reference(points: np.ndarray, centers: np.ndarray, k: int) -> list[int]:
    chosen: list[int] = []
    for _ in range(k):
        best, best_d = -1, -1.0
        for i, p in enumerate(points):
            if i in chosen:
                continue
            d = min([float(((p - q) ** 2).sum()) for q in centers]
                    + [float(((p - points[j]) ** 2).sum()) for j in chosen] + [math.inf])
            if d > best_d:
                best, best_d = i, d
        chosen.append(best)
    return chosen


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 25), st.integers(0, 4), st.integers(1, 6), st.integers(0, 10_000))
def test_k_center_greedy_matches_reference(n: int, m: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    points, centers = rng.normal(size=(n, 4)), rng.normal(size=(m, 4))
    k = min(k, n)
    got = acq.k_center_greedy(points, k, centers=centers)
    assert got.tolist() == _k_center_reference(points, centers, k)
    assert len(set(got.tolist())) == k


def test_k_center_greedy_skips_near_duplicate_frames() -> None:
    """Five clusters of 20 near-identical frames: 5 picks land in 5 different clusters,
    where the top-5 of any per-frame score could all come from one cluster."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(5, 8))
    pool = np.repeat(centres, 20, axis=0) + rng.normal(scale=1e-3, size=(100, 8))
    picks = acq.k_center_greedy(pool, 5, centers=np.zeros((0, 8)))
    assert sorted(set(picks // 20)) == [0, 1, 2, 3, 4]
    # With one cluster already labelled, the picks avoid it.
    picks = acq.k_center_greedy(pool, 4, centers=pool[:1])
    assert 0 not in set(picks // 20)


def test_k_center_greedy_accepts_precomputed_distances() -> None:
    rng = np.random.default_rng(1)
    pool, lab = rng.normal(size=(30, 3)), rng.normal(size=(4, 3))
    a = acq.k_center_greedy(pool, 6, centers=lab)
    b = acq.k_center_greedy(pool, 6, min_dist=acq.min_sq_distances(pool, lab))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="min_dist"):
        acq.k_center_greedy(pool, 2, min_dist=np.zeros(3))


def test_check_strategy_names_the_known_ones() -> None:
    assert acq.check_strategy("bald") == "bald"
    with pytest.raises(ValueError, match="margin"):
        acq.check_strategy("margins")
