"""Learning-curve arithmetic behind al/label_savings_vs_random."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipelines.active.stage import label_savings, labels_to_reach


def test_labels_to_reach_interpolates_the_first_crossing() -> None:
    labels = np.array([100, 300, 500, 700])
    f1 = np.array([0.2, 0.5, 0.9, 0.8])
    assert labels_to_reach(labels, f1, 0.7) == pytest.approx(400.0)
    assert labels_to_reach(labels, f1, 0.9) == pytest.approx(500.0)
    assert labels_to_reach(labels, f1, 0.1) == 100.0
    assert labels_to_reach(labels, f1, 0.95) is None
    # Order of the rows does not matter.
    assert labels_to_reach(labels[::-1], f1[::-1], 0.7) == pytest.approx(400.0)
    with pytest.raises(ValueError):
        labels_to_reach(labels, f1[:2], 0.5)


def test_label_savings() -> None:
    assert label_savings(3000.0, 1500.0, 6000.0) == (2.0, False)
    value, lower = label_savings(None, 2000.0, 6000.0)  # random never got there
    assert value == 3.0 and lower
    value, lower = label_savings(3000.0, None, 6000.0)  # the strategy never got there
    assert math.isnan(value) and not lower
