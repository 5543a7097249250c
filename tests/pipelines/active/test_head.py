"""The active-learning classifier: step budget, learning, determinism, input checks, samplers."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.active.head import (
    HeadSpec,
    TrainSpec,
    f1_per_label,
    fit_head,
    head_from_state,
    head_state,
    per_example_loss,
    predict,
)


def _toy(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two labels readable from the features: class = which of 4 blobs (label 0), and its
    parity (label 1); values live in [0, 256) like RAM bytes."""
    centres = np.random.default_rng(99).normal(scale=4, size=(4, 6))  # fixed across calls
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, 4, n)
    x = (centres[cls] + rng.normal(scale=0.3, size=(n, 6))).astype(np.float32)
    return x, np.stack([cls * 50 + 10, cls % 2], 1)


SPEC = HeadSpec(in_dim=6, num_labels=2, hidden=32, dropout=0.1)
TRAIN = TrainSpec(epochs=20, min_steps=50, batch_size=32, lr=1e-2)


def test_steps_follow_the_labelled_set_size() -> None:
    t = TrainSpec(epochs=30, min_steps=300, batch_size=256)
    assert t.steps_for(100) == 300
    assert t.steps_for(5120) == 600
    assert t.steps_for(5121) == 601


def test_fit_learns_and_is_deterministic() -> None:
    x, y = _toy()
    head = fit_head(x, y, SPEC, TRAIN, seed=3)
    tx, ty = _toy(200, seed=1)
    f1 = f1_per_label(head, tx, ty, ("blob", "parity"))
    assert f1["blob"] > 0.95 and f1["parity"] > 0.95
    again = fit_head(x, y, SPEC, TRAIN, seed=3)
    np.testing.assert_array_equal(predict(head, tx), predict(again, tx))
    loss = per_example_loss(head, tx, ty)
    assert loss.shape == (200,) and np.all(loss >= 0)


def test_head_state_round_trips() -> None:
    x, y = _toy(64)
    head = fit_head(x, y, SPEC, TRAIN, seed=0, steps=5)
    copy = head_from_state(head_state(head, SPEC))
    np.testing.assert_array_equal(predict(head, x), predict(copy, x))


def test_sampler_and_eval_callback() -> None:
    x, y = _toy(100)
    seen: set[int] = set()
    evals: list[int] = []

    def only_first_ten(step: int, rng: np.random.Generator) -> np.ndarray:
        idx = rng.integers(0, 10, 8)
        seen.update(idx.tolist())
        return idx

    fit_head(x, y, SPEC, TRAIN, seed=0, steps=25, sampler=only_first_ten, every=10,
             on_eval=lambda step, head: evals.append(step))
    assert seen <= set(range(10))
    assert evals == [10, 20, 25]


@pytest.mark.parametrize(("x", "y", "match"), [
    (np.zeros((0, 6)), np.zeros((0, 2), int), "x must be"),
    (np.zeros((4, 5)), np.zeros((4, 2), int), "x must be"),
    (np.zeros((4, 6)), np.zeros((4, 1), int), "y must be"),
    (np.zeros((4, 6)), np.full((4, 2), 256), "labels must lie"),
])
def test_bad_inputs_raise(x: np.ndarray, y: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_head(x, y, SPEC, TRAIN, seed=0)
