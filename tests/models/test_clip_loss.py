"""symmetric_info_nce and recall_at_k against hand oracles and slow loops."""

from __future__ import annotations

import math

import pytest
import torch

from models.clip_loss import recall_at_k, symmetric_info_nce


def _slow_ce(rows: list[list[float]]) -> float:
    total = 0.0
    for i, row in enumerate(rows):
        total += -(row[i] - math.log(sum(math.exp(v) for v in row)))
    return total / len(rows)


def _slow_symmetric(a: torch.Tensor, b: torch.Tensor, log_scale: float) -> float:
    scale = math.exp(min(log_scale, math.log(100)))
    n = a.shape[0]
    an = [a[i] / a[i].norm() for i in range(n)]
    bn = [b[j] / b[j].norm() for j in range(n)]
    rows = [[scale * float(an[i] @ bn[j]) for j in range(n)] for i in range(n)]
    cols = [[rows[j][i] for j in range(n)] for i in range(n)]
    return (_slow_ce(rows) + _slow_ce(cols)) / 2


def _pair(n: int = 6, d: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g, dtype=torch.float64),
            torch.randn(n, d, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("log_scale", [0.0, math.log(1 / 0.07)])
def test_matches_slow_loop(log_scale: float) -> None:
    a, b = _pair()
    out = symmetric_info_nce(a, b, torch.tensor(log_scale, dtype=torch.float64))
    assert out.shape == ()
    assert out.item() == pytest.approx(_slow_symmetric(a, b, log_scale), rel=1e-9)


def test_symmetric_in_its_arguments() -> None:
    a, b = _pair(seed=2)
    s = torch.tensor(2.0, dtype=torch.float64)
    assert symmetric_info_nce(a, b, s).item() == pytest.approx(
        symmetric_info_nce(b, a, s).item(), rel=1e-12)


def test_logit_scale_is_clamped_to_log_100() -> None:
    a, b = _pair(seed=3)
    capped = symmetric_info_nce(a, b, torch.tensor(math.log(100), dtype=torch.float64))
    over = symmetric_info_nce(a, b, torch.tensor(10.0, dtype=torch.float64))
    assert over.item() == pytest.approx(capped.item(), rel=1e-12)
    assert over.item() == pytest.approx(_slow_symmetric(a, b, 10.0), rel=1e-9)


def test_hand_oracle_orthogonal_pairs() -> None:
    # a_i == b_i, one-hot: cos is 1 on the diagonal and 0 elsewhere; with scale 1 each row's
    # cross entropy is -log(e / (e + (n - 1))).
    n = 3
    e = torch.eye(n)
    expected = -math.log(math.e / (math.e + n - 1))
    assert symmetric_info_nce(e, e, torch.tensor(0.0)).item() == pytest.approx(expected, rel=1e-6)


def test_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="one shape"):
        symmetric_info_nce(torch.zeros(3, 4), torch.zeros(2, 4), torch.tensor(0.0))


def test_recall_identical_embeddings_is_one() -> None:
    a, _ = _pair(n=20)
    assert recall_at_k(a, a, ks=(1, 5)) == {1: 1.0, 5: 1.0}


def test_recall_hand_example() -> None:
    # 2-D unit vectors; a_i vs b_j cosines worked by hand:
    # row 0: b0 is the best match              -> rank 0
    # row 1: b1 is beaten by b0 (only)         -> rank 1
    # row 2: b2 is beaten by b0 and b1         -> rank 2
    # row 3: b3 is beaten by b0, b1, b2        -> rank 3
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
    out = recall_at_k(a, b, ks=(1, 2, 3, 4))
    assert out == {1: 0.25, 2: 0.5, 3: 0.75, 4: 1.0}


def test_recall_matches_slow_loop() -> None:
    a, b = _pair(n=12, d=3, seed=7)
    out = recall_at_k(a, b, ks=(1, 3, 5))
    for k in (1, 3, 5):
        hits = 0
        for i in range(12):
            sims = [float(a[i] @ b[j]) / float(a[i].norm() * b[j].norm()) for j in range(12)]
            better = sum(s > sims[i] for s in sims)
            hits += better < k
        assert out[k] == pytest.approx(hits / 12)


def test_recall_is_scale_invariant_and_permutation_sensitive() -> None:
    a, _ = _pair(n=8, seed=9)
    assert recall_at_k(a, a * 3.0, ks=(1,))[1] == 1.0
    assert recall_at_k(a, a.roll(1, dims=0), ks=(1,))[1] < 1.0
