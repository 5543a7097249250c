"""Stream-based AL's threshold: calibrated to the budget's rate, then tracking it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.active.stream import calibrate_threshold, should_query, update_threshold


def test_calibration_lets_the_budget_share_through() -> None:
    scores = np.random.default_rng(0).random(10_000)
    theta = calibrate_threshold(scores, 0.1)
    assert np.mean(scores > theta) == pytest.approx(0.1, abs=0.002)
    with pytest.raises(ValueError):
        calibrate_threshold(scores, 0.0)
    with pytest.raises(ValueError):
        calibrate_threshold(np.array([]), 0.5)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.01, 5.0), st.floats(0.01, 0.99), st.floats(0.001, 0.5))
def test_update_goes_up_after_a_query_down_after_a_pass_and_balances_at_the_rate(
        theta: float, rate: float, step: float) -> None:
    up, down = update_threshold(theta, True, rate, step), update_threshold(theta, False, rate,
                                                                            step)
    assert up > theta > down > 0
    # Querying exactly `rate` of frames leaves log(theta) unchanged on average.
    drift = rate * math.log(up / theta) + (1 - rate) * math.log(down / theta)
    assert drift == pytest.approx(0.0, abs=1e-12)


def test_should_query_respects_threshold_and_budget() -> None:
    assert should_query(0.8, 0.5, used=3, budget=4)
    assert not should_query(0.4, 0.5, used=0, budget=4)
    assert not should_query(0.9, 0.5, used=4, budget=4)


@pytest.mark.parametrize("rate", [0.05, 0.2])
def test_a_drifting_stream_is_queried_at_the_target_rate(rate: float) -> None:
    """Uncertainty that shrinks as a learner improves: a fixed threshold would stop asking,
    the adapted one keeps the rate."""
    rng = np.random.default_rng(1)
    n = 20_000
    scores = rng.random(n) * np.linspace(1.0, 0.2, n)
    theta = calibrate_threshold(scores[:200], rate)
    asked = 0
    for s in scores[200:]:
        q = should_query(float(s), theta, asked, budget=n)
        asked += q
        theta = update_threshold(theta, q, rate, 0.05)
    assert asked / (n - 200) == pytest.approx(rate, rel=0.1)
    fixed = calibrate_threshold(scores[:200], rate)
    assert np.mean(scores[-5000:] > fixed) < rate / 2
