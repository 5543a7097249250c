"""Data curriculum: pacing functions, orders, paced sampling, difficulty scores, and the
ball_speed refusal on a game without ball labels."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.active.head import HeadSpec, TrainSpec
from pipelines.active.pool import FrameSet
from pipelines.core.config import load_config
from pipelines.curriculum import data_curriculum
from pipelines.curriculum.data_curriculum import (
    available,
    ball_speed,
    example_order,
    paced_sampler,
    pacing_fraction,
    reference_loss,
)
from pipelines.data.dataset import DatasetError

PACINGS = ("fixed_steps", "linear", "root")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PACINGS), st.integers(1, 2000), st.floats(0.01, 1.0),
       st.floats(0.05, 1.0), st.integers(1, 10))
def test_pacing_starts_at_start_grows_and_ends_at_all(kind: str, total: int, start: float,
                                                      ramp: float, levels: int) -> None:
    g = [pacing_fraction(kind, t, total, start, ramp, levels) for t in range(total + 1)]
    assert g[0] == pytest.approx(start)
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(g))
    assert all(start - 1e-12 <= v <= 1.0 + 1e-12 for v in g)
    assert g[-1] == pytest.approx(1.0)
    ramp_end = int(np.ceil(ramp * total))
    assert all(v == pytest.approx(1.0) for v in g[ramp_end:])


def test_pacing_shapes() -> None:
    lin = [pacing_fraction("linear", t, 100, 0.2) for t in range(101)]
    root = [pacing_fraction("root", t, 100, 0.2) for t in range(101)]
    steps = [pacing_fraction("fixed_steps", t, 100, 0.2, levels=4) for t in range(101)]
    assert lin[50] == pytest.approx(0.6)
    assert root[50] == pytest.approx(np.sqrt(0.04 + 0.96 * 0.5))
    assert all(r >= v - 1e-12 for r, v in zip(root, lin, strict=True))  # root: faster early
    assert sorted(set(np.round(steps, 9))) == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert steps[24] == pytest.approx(0.2) and steps[25] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="unknown pacing"):
        pacing_fraction("cubic", 1, 10, 0.5)
    with pytest.raises(ValueError):
        pacing_fraction("linear", 1, 0, 0.5)


@given(st.floats(0.0, 1.0), st.integers(1, 10_000))
def test_available_is_within_one_and_n(fraction: float, n: int) -> None:
    k = available(fraction, n)
    assert 1 <= k <= n
    assert k >= fraction * n - 1e-6


def test_orders() -> None:
    d = np.array([3.0, 1.0, 2.0, 1.0, 5.0])
    rng = np.random.default_rng(0)
    easy = example_order("curriculum", d, rng)
    assert list(d[easy]) == sorted(d)
    hard = example_order("anti", d, rng)
    assert list(d[hard]) == sorted(d, reverse=True)
    rand = example_order("random", d, rng)
    assert sorted(rand.tolist()) == list(range(5))
    with pytest.raises(ValueError):
        example_order("sideways", d, rng)


def test_paced_sampler_draws_only_from_the_available_prefix() -> None:
    order = np.arange(100)[::-1]  # "easiest" is index 99
    sample = paced_sampler(order, "linear", total=10, batch_size=50, start=0.1, ramp=1.0,
                           levels=5)
    rng = np.random.default_rng(0)
    first = sample(0, rng)
    assert set(first.tolist()) <= set(order[:10].tolist())
    assert set(sample(10, rng).tolist()) - set(order[:10].tolist())  # later: the rest too
    everything = paced_sampler(order, None, 10, 50, 0.1, 1.0, 5)(0, rng)
    assert set(everything.tolist()) - set(order[:10].tolist())


def test_ball_speed_from_ram_within_episodes() -> None:
    ram = np.zeros((4, 128), np.uint8)
    ram[:, 49] = [10, 13, 50, 52]  # ball_x
    ram[:, 54] = [20, 24, 60, 60]  # ball_y
    frames = FrameSet(np.array(["e0-s00000", "e0-s00001", "e1-s00000", "e1-s00001"]),
                      np.zeros((4, 2), np.float32), ram)
    speed = ball_speed(frames, {"ball_x": 49, "ball_y": 54})
    np.testing.assert_allclose(speed, [0, 7, 0, 2])


def test_reference_loss_ranks_mislabelled_frames_hard() -> None:
    rng = np.random.default_rng(0)
    cls = rng.integers(0, 3, 400)
    x = (np.eye(3)[cls] * 5 + rng.normal(scale=0.3, size=(400, 3))).astype(np.float32)
    y = cls[:, None] * 40
    noisy = np.arange(0, 400, 10)
    y[noisy, 0] = (y[noisy, 0] + 40) % 120  # every 10th frame carries a wrong label
    loss = reference_loss(x, y, HeadSpec(3, 1, 16, 0.0), TrainSpec(30, 100, 32, 1e-2), seed=0)
    clean = np.setdiff1d(np.arange(400), noisy)
    assert np.median(loss[noisy]) > 3 * np.median(loss[clean])


def test_ball_speed_on_a_game_without_a_ball_stops_before_any_compute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_compute(*args: object, **kwargs: object) -> None:
        raise AssertionError("refused before the manifest, encoder or features are touched")

    for name in ("load_manifest", "resolve_encoder", "load_features"):
        monkeypatch.setattr(data_curriculum, name, no_compute)
    # Loading such a config is refused (tests/pipelines/core/test_config_active.py); a config made
    # without validation (model_copy) still stops at the stage's start.
    base = load_config("smoke")
    cfg = base.model_copy(update={"game": "ALE/Skiing-v5", "data_curriculum": (
        base.data_curriculum.model_copy(update={"difficulty": "ball_speed"}))})
    with pytest.raises(DatasetError, match=r"data_curriculum.difficulty: ball_speed needs the "
                       r"ball_x and ball_y RAM labels, which ALE/Skiing-v5 does not have"):
        data_curriculum.run_data_curriculum(cfg, tmp_path)
