"""Fusion operators against hand-computed oracles: concatenation, element-wise, TFN's outer
product (a loop), and LMF as a low-rank linear map of TFN's tensor."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from models.fusion import ConcatFusion, ElementwiseFusion, FusionNet, LateFusion, mlp
from models.tensor_fusion import LowRankFusion, TensorFusion, append_one


def _zs(dims: tuple[int, ...], b: int = 4) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(b, d, generator=g) for d in dims]


def test_concat_and_elementwise() -> None:
    a, b = _zs((3, 3))
    assert torch.equal(ConcatFusion([3, 3])([a, b]), torch.cat([a, b], 1))
    torch.testing.assert_close(ElementwiseFusion([3, 3], "sum")([a, b]), a + b)
    torch.testing.assert_close(ElementwiseFusion([3, 3], "product")([a, b]), a * b)
    with pytest.raises(ValueError, match="equal dimensions"):
        ElementwiseFusion([3, 4])
    with pytest.raises(ValueError, match="mode"):
        ElementwiseFusion([3, 3], "max")
    with pytest.raises(ValueError, match="one B"):
        ConcatFusion([3, 3])([a, b[:2]])


@pytest.mark.parametrize("dims", [(2, 3), (2, 3, 2)])
def test_tensor_fusion_is_the_outer_product_of_extended_vectors(dims: tuple[int, ...]) -> None:
    zs = _zs(dims)
    out = TensorFusion(dims)(zs)
    ext = [append_one(z) for z in zs]
    assert out.shape == (4, int(torch.tensor([d + 1 for d in dims]).prod()))
    for b in range(4):
        expected = [float(torch.tensor([ext[m][b, i] for m, i in enumerate(idx)]).prod())
                    for idx in itertools.product(*(range(d + 1) for d in dims))]
        torch.testing.assert_close(out[b], torch.tensor(expected))
    # the trailing 1s keep the unimodal terms: the last d_M + 1 entries are [z_M; 1]
    torch.testing.assert_close(out[:, -(dims[-1] + 1):], ext[-1])


@pytest.mark.parametrize("dims", [(2, 3), (2, 3, 4)])
def test_low_rank_fusion_is_a_linear_map_of_the_tensor(dims: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    lmf = LowRankFusion(dims, out_dim=5, rank=3)
    zs = _zs(dims)
    tensor = TensorFusion(dims)(zs)
    expected = tensor @ lmf.full_weight() + lmf.bias
    torch.testing.assert_close(lmf(zs), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="expected dims"):
        lmf(zs[::-1])


def test_fusion_net_and_late_fusion() -> None:
    torch.manual_seed(0)
    x = {"a": torch.randn(4, 3), "b": torch.randn(4, 5)}
    net = FusionNet({"a": mlp(3, 8, 4), "b": mlp(5, 8, 4)}, ElementwiseFusion([4, 4]),
                    nn.Linear(4, 2))
    assert net(x).shape == (4, 2)
    with pytest.raises(ValueError, match="lack modalities"):
        net({"a": x["a"]})
    branches = {m: FusionNet({m: nn.Identity()}, ConcatFusion([d]), nn.Linear(d, 2))
                for m, d in (("a", 3), ("b", 5))}
    late = LateFusion(branches)
    torch.testing.assert_close(late(x), (branches["a"](x) + branches["b"](x)) / 2)


def test_trained_tensor_fusion_learns_an_interaction_sum_cannot() -> None:
    # XOR of two signs is a pure bimodal interaction: additive fusion cannot fit it.
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(256, 1, generator=g), torch.randn(256, 1, generator=g)
    y = ((a > 0) ^ (b > 0)).long().squeeze(1)

    def fit(fusion: nn.Module) -> float:
        torch.manual_seed(0)
        net = FusionNet({"a": nn.Identity(), "b": nn.Identity()}, fusion,
                        nn.Linear(fusion.out_dim, 2))
        opt = torch.optim.Adam(net.parameters(), lr=0.05)
        for _ in range(300):
            opt.zero_grad()
            nn.functional.cross_entropy(net({"a": a, "b": b}), y).backward()
            opt.step()
        return float((net({"a": a, "b": b}).argmax(1) == y).float().mean())

    assert fit(TensorFusion((1, 1))) > 0.9
    assert fit(ElementwiseFusion([1, 1], "sum")) < 0.75
