"""Unit tests for pipelines/data/splits.py: split sizes, episode assignment, leak detection."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from pipelines.data.splits import SPLITS, assign_episode_splits, leaked_mask, split_counts


def episode_ids(n: int) -> list[str]:
    """n distinct episode ids."""
    return [f"ep-{i:04d}" for i in range(n)]


def random_fractions(rng: np.random.Generator) -> tuple[float, float, float]:
    """Random train/val/test fractions summing to 1, with train > 0 and some zeros."""
    f = rng.dirichlet(np.ones(3))
    if rng.random() < 0.3:
        f[rng.integers(1, 3)] = 0.0
    f = f / f.sum()
    return float(f[0]), float(f[1]), float(f[2])


@pytest.mark.parametrize(
    ("n", "fractions", "expected"),
    [
        (100, (0.7, 0.1, 0.2), (70, 10, 20)),
        (10, (0.7, 0.1, 0.2), (7, 1, 2)),
        (1000, (0.7, 0.1, 0.2), (700, 100, 200)),
        (3, (0.7, 0.1, 0.2), (1, 1, 1)),
        (3, (0.98, 0.01, 0.01), (1, 1, 1)),
        (4, (0.5, 0.5, 0.0), (2, 2, 0)),
        (5, (1.0, 0.0, 0.0), (5, 0, 0)),
        (0, (0.7, 0.1, 0.2), (0, 0, 0)),
        (1, (0.7, 0.1, 0.2), (1, 0, 0)),
    ],
)
def test_split_counts_examples(
    n: int, fractions: tuple[float, float, float], expected: tuple[int, int, int]
) -> None:
    assert split_counts(n, fractions) == expected


def test_split_counts_returns_ints() -> None:
    assert all(type(c) is int for c in split_counts(10, (0.7, 0.1, 0.2)))


def test_split_counts_properties() -> None:
    rng = np.random.default_rng(1234)
    for _ in range(500):
        fractions = random_fractions(rng)
        n = int(rng.integers(0, 60))
        counts = split_counts(n, fractions)
        assert sum(counts) == n, (n, fractions, counts)
        assert min(counts) >= 0, (n, fractions, counts)
        positive = [i for i, f in enumerate(fractions) if f > 0]
        for i, f in enumerate(fractions):
            if f == 0:
                assert counts[i] == 0, (n, fractions, counts)
        if n >= len(positive):
            assert all(counts[i] >= 1 for i in positive), (n, fractions, counts)


def test_split_counts_close_to_fractions_for_large_n() -> None:
    rng = np.random.default_rng(7)
    for _ in range(100):
        fractions = random_fractions(rng)
        n = int(rng.integers(100, 5000))
        counts = split_counts(n, fractions)
        for c, f in zip(counts, fractions, strict=True):
            assert abs(c - f * n) < 1.0 + 1e-9, (n, fractions, counts)


def test_assign_is_deterministic_for_a_seed() -> None:
    ids = episode_ids(50)
    assert assign_episode_splits(ids, (0.7, 0.1, 0.2), 3) == assign_episode_splits(
        ids, (0.7, 0.1, 0.2), 3
    )


def test_assign_ignores_input_order_and_duplicates() -> None:
    ids = episode_ids(30)
    shuffled = list(reversed(ids)) + ids[:5]  # duplicates: one id per row in a real dataset
    assert assign_episode_splits(shuffled, (0.7, 0.1, 0.2), 0) == assign_episode_splits(
        ids, (0.7, 0.1, 0.2), 0
    )


def test_assign_differs_for_another_seed() -> None:
    ids = episode_ids(50)
    a = assign_episode_splits(ids, (0.7, 0.1, 0.2), 0)
    b = assign_episode_splits(ids, (0.7, 0.1, 0.2), 1)
    assert a != b
    assert Counter(a.values()) == Counter(b.values())  # same sizes, different members


def test_assign_every_episode_exactly_once() -> None:
    ids = episode_ids(23)
    rows = [e for e in ids for _ in range(4)]  # many rows per episode
    out = assign_episode_splits(rows, (0.7, 0.1, 0.2), 5)
    assert sorted(out) == sorted(ids)
    assert set(out.values()) <= set(SPLITS)
    members = {s: {e for e, v in out.items() if v == s} for s in SPLITS}
    assert members["train"].isdisjoint(members["val"])
    assert members["train"].isdisjoint(members["test"])
    assert members["val"].isdisjoint(members["test"])
    assert set().union(*members.values()) == set(ids)


@pytest.mark.parametrize(
    ("n", "fractions"),
    [(100, (0.7, 0.1, 0.2)), (3, (0.7, 0.1, 0.2)), (10, (0.8, 0.0, 0.2)), (7, (1.0, 0.0, 0.0))],
)
def test_assign_sizes_match_split_counts(n: int, fractions: tuple[float, float, float]) -> None:
    out = assign_episode_splits(episode_ids(n), fractions, 11)
    counts = Counter(out.values())
    assert tuple(counts.get(s, 0) for s in SPLITS) == split_counts(n, fractions)


def test_assign_empty() -> None:
    assert assign_episode_splits([], (0.7, 0.1, 0.2), 0) == {}


def test_leaked_mask_hand_built() -> None:
    splits = ["train", "train", "val", "val", "test", "test", "test", "train"]
    hashes = ["a", "b", "a", "c", "b", "d", "c", "a"]
    mask = leaked_mask(splits, hashes)
    assert mask.dtype == bool
    # val 'a' and test 'b' occur in train; val/test 'c' and test 'd' only outside train
    np.testing.assert_array_equal(mask, [False, False, True, False, True, False, False, False])


def test_leaked_mask_train_rows_never_true() -> None:
    splits = ["train"] * 4
    hashes = ["x", "x", "y", "y"]  # duplicates within train are not leaks
    assert not leaked_mask(splits, hashes).any()


def test_leaked_mask_no_train_rows() -> None:
    mask = leaked_mask(["val", "test", "test"], ["a", "a", "b"])
    assert not mask.any()


def test_leaked_mask_random_agrees_with_definition() -> None:
    rng = np.random.default_rng(3)
    splits = rng.choice(SPLITS, size=300).tolist()
    hashes = [f"h{v}" for v in rng.integers(0, 40, size=300)]
    mask = leaked_mask(splits, hashes)
    train = {h for s, h in zip(splits, hashes, strict=True) if s == "train"}
    expected = [s != "train" and h in train for s, h in zip(splits, hashes, strict=True)]
    np.testing.assert_array_equal(mask, expected)
    assert mask.any()  # the example does exercise leaks


def test_leaked_mask_empty() -> None:
    assert leaked_mask([], []).shape == (0,)
