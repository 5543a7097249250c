"""Property-based tests (hypothesis) for the pure functions every stage relies on: label
extraction, episode splits, the curriculum schedule, the contrastive losses and the transfer
metric. Each property holds for any input hypothesis can build, not only the examples."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from agents.curriculum import Schedule, next_task
from models.clip_loss import symmetric_info_nce
from models.info_nce import info_nce
from pipelines.data.labels import RAM_LABELS, entropy_bits, extract_labels
from pipelines.data.splits import SPLITS, assign_episode_splits, leaked_mask, split_counts
from pipelines.rl.experiments import steps_to_return

FAST = settings(max_examples=60, deadline=None)

fractions = st.tuples(st.integers(1, 10), st.integers(0, 10), st.integers(0, 10)).map(
    lambda t: tuple(x / sum(t) for x in t))


@FAST
@given(ram=arrays(np.uint8, st.tuples(st.integers(0, 20), st.just(128))),
       game=st.sampled_from(sorted(RAM_LABELS)))
def test_extract_labels_picks_exactly_the_annotated_bytes(ram: np.ndarray, game: str) -> None:
    table = RAM_LABELS[game]
    labels = extract_labels(ram, table)
    assert set(labels) == set(table)
    for name, idx in table.items():
        assert labels[name].dtype == np.uint8
        np.testing.assert_array_equal(labels[name], ram[:, idx])


@FAST
@given(values=arrays(np.uint8, st.integers(0, 200)))
def test_entropy_is_bounded_by_the_number_of_distinct_values(values: np.ndarray) -> None:
    h = entropy_bits(values)
    distinct = len(np.unique(values))
    assert 0.0 <= h <= math.log2(max(distinct, 1)) + 1e-9


@FAST
@given(n=st.integers(0, 500), fr=fractions)
def test_split_counts_cover_every_episode_once(n: int, fr: tuple[float, float, float]) -> None:
    counts = split_counts(n, fr)
    assert sum(counts) == n and min(counts) >= 0
    if n >= sum(f > 0 for f in fr):  # enough episodes: every wanted split gets one
        assert all(c > 0 for c, f in zip(counts, fr, strict=True) if f > 0)


@FAST
@given(ids=st.lists(st.text(min_size=1, max_size=6), max_size=60), fr=fractions,
       seed=st.integers(0, 2**31))
def test_episode_splits_are_deterministic_and_total(ids: list[str], fr: tuple[float, ...],
                                                    seed: int) -> None:
    a = assign_episode_splits(ids, fr, seed)
    assert a == assign_episode_splits(list(reversed(ids)), fr, seed)  # order-free
    assert set(a) == set(ids) and set(a.values()) <= set(SPLITS)
    counts = [sum(v == s for v in a.values()) for s in SPLITS]
    assert tuple(counts) == split_counts(len(set(ids)), fr)


@FAST
@given(rows=st.lists(st.tuples(st.sampled_from(SPLITS), st.sampled_from("abcdef")),
                     max_size=50))
def test_leaked_mask_drops_only_held_out_frames_seen_in_train(rows: list[tuple[str, str]]
                                                              ) -> None:
    splits = [s for s, _ in rows]
    hashes = [h for _, h in rows]
    mask = leaked_mask(splits, hashes)
    train = {h for s, h in rows if s == "train"}
    for (s, h), dropped in zip(rows, mask, strict=True):
        assert dropped == (s != "train" and h in train)


@FAST
@given(n=st.integers(1, 6), index=st.integers(0, 5), ret=st.none() | st.floats(-21, 21),
       episodes=st.integers(0, 20), promote=st.floats(-21, 21), gap=st.floats(0.1, 10),
       demote=st.booleans(), patience=st.integers(1, 10))
def test_schedule_moves_at_most_one_task_and_stays_in_range(
        n: int, index: int, ret: float | None, episodes: int, promote: float, gap: float,
        demote: bool, patience: int) -> None:
    index = min(index, n - 1)
    s = Schedule(n, promote, promote - gap if demote else None, patience)
    new = next_task(index, ret, episodes, s)
    assert 0 <= new < n and abs(new - index) <= 1
    if ret is None or episodes < patience:
        assert new == index  # no judgement without enough evidence
    if new > index:
        assert ret is not None and ret >= promote
    if new < index:
        assert demote and ret is not None and ret <= promote - gap


@FAST
@given(b=st.integers(2, 12), d=st.integers(2, 16), seed=st.integers(0, 1000),
       scale=st.floats(-2.0, 6.0))
def test_symmetric_info_nce_is_symmetric_and_bounded_below(b: int, d: int, seed: int,
                                                           scale: float) -> None:
    g = torch.Generator().manual_seed(seed)
    a, c = torch.randn(b, d, generator=g), torch.randn(b, d, generator=g)
    s = torch.tensor(scale)
    ab, ba = symmetric_info_nce(a, c, s), symmetric_info_nce(c, a, s)
    torch.testing.assert_close(ab, ba)
    assert ab.item() >= 0.0 and math.isfinite(ab.item())


@FAST
@given(b=st.integers(2, 12), seed=st.integers(0, 1000))
def test_info_nce_is_nonnegative_and_lowest_for_confident_diagonals(b: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, b, generator=g)
    loss = info_nce(logits).item()
    assert loss >= 0.0
    assert info_nce(torch.eye(b) * 50.0).item() <= loss + 1e-6


@FAST
@given(curve=st.lists(st.tuples(st.integers(0, 10**6), st.floats(-21, 21)), max_size=30),
       threshold=st.floats(-21, 21))
def test_steps_to_return_is_the_first_crossing(curve: list[tuple[int, float]],
                                               threshold: float) -> None:
    curve.sort()
    steps = [s for s, _ in curve]
    returns = [r for _, r in curve]
    got = steps_to_return(steps, returns, threshold)
    crossing = [s for s, r in curve if r >= threshold]
    assert got == (float(crossing[0]) if crossing else None)
