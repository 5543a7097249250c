"""The shared training loop keeps the best validation epoch; binary scores by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pipelines.core.torch_fit import batches, binary_scores, fit, predict, train_rounds


def test_batches_cover_every_row_once() -> None:
    arrays = {"a": np.arange(10), "b": np.arange(10) * 2}
    seen = np.concatenate([b["a"].numpy() for b in batches(arrays, 3,
                                                           torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(10))
    for b in batches(arrays, 4, shuffle=False):
        assert torch.equal(b["b"], 2 * b["a"])


def test_fit_restores_the_best_scoring_epoch() -> None:
    model = nn.Linear(1, 1)
    x = np.linspace(-1, 1, 32, dtype=np.float32)[:, None]
    scores = iter([0.1, 0.9, 0.2])
    states = []

    def score(m: nn.Module) -> float:
        states.append({k: v.clone() for k, v in m.state_dict().items()})
        return next(scores)

    res = fit(model, lambda m, b: ((m(b["x"]) - 3 * b["x"]) ** 2).mean(), {"x": x}, epochs=3,
              batch_size=8, lr=0.1, seed=0, score=score)
    assert res.best_epoch == 1 and res.best_score == 0.9 and len(res.history) == 3
    torch.testing.assert_close(model.state_dict()["weight"], states[1]["weight"])
    out = predict(model, {"x": x}, call=lambda m, b: m(b["x"]))
    assert out.shape == (32, 1)


def test_train_rounds_stops_after_patience_rounds_without_a_better_score() -> None:
    scores = iter([0.5, 0.4, 0.6, 0.6, 0.1, 0.2, 0.9])  # the 0.9 is never reached
    rounds = ([{"x": torch.ones(2, 1)}] for _ in range(7))
    res = train_rounds(nn.Linear(1, 1), lambda m, b: m(b["x"]).pow(2).mean(), rounds, lr=0.1,
                       score=lambda m: next(scores), patience=3)
    assert res.best_epoch == 2 and res.best_score == 0.6  # a tie is no improvement
    assert len(res.history) == 6 and not res.model.training


def test_fit_seeded_by_an_int_or_by_a_generator_that_goes_on_from_its_state() -> None:
    x = np.linspace(-1, 1, 32, dtype=np.float32)[:, None]

    def weights(seed: int | torch.Generator) -> torch.Tensor:
        torch.manual_seed(0)  # the same initial weights every time: only the shuffle differs
        res = fit(nn.Linear(1, 1), lambda m, b: ((m(b["x"]) - 3 * b["x"]) ** 2).mean(),
                  {"x": x}, epochs=2, batch_size=4, lr=0.1, seed=seed)
        return res.model.weight.detach().clone()

    assert torch.equal(weights(5), weights(torch.Generator().manual_seed(5)))
    drawn = torch.Generator().manual_seed(5)
    torch.rand(3, generator=drawn)  # as a probe draws its initial weights first
    assert not torch.equal(weights(5), weights(drawn))


def test_binary_scores_by_hand() -> None:
    s = binary_scores(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
    assert s == {"f1": pytest.approx(0.5), "macro_f1": pytest.approx(0.5), "accuracy": 0.5,
                 "positive_rate": 0.5}
    assert binary_scores(np.array([0, 0]), np.array([0, 0]))["f1"] == 0.0
    # everything predicted positive: positive F1 2p/(1+p), negative F1 0
    s = binary_scores(np.array([1, 1, 1, 0]), np.array([1, 1, 1, 1]))
    assert s["f1"] == pytest.approx(6 / 7) and s["macro_f1"] == pytest.approx(3 / 7)
