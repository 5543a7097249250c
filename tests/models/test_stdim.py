"""ST-DIM: the one-pass feature-map helper matches the encoder, the vectorised losses match a
slow per-location, per-row reference loop, contracts are enforced, and training lowers them."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from models.encoder import NatureCNN, SmallCNN
from models.stdim import (
    STDIM,
    global_local_infonce,
    local_and_global,
    local_local_infonce,
    stdim_loss,
)


def _row_loss(scores: list[float], target: int) -> float:
    """-log softmax(scores)[target], computed by hand (max-shifted log-sum-exp)."""
    top = max(scores)
    log_z = top + math.log(sum(math.exp(s - top) for s in scores))
    return -(scores[target] - log_z)


def _slow_global_local(g: torch.Tensor, local: torch.Tensor, head: nn.Linear) -> float:
    b, c, h, w = local.shape
    total = 0.0
    for y in range(h):
        for x in range(w):
            per_location = 0.0
            for i in range(b):
                pred = [float(head.bias[k] + head.weight[k] @ g[i]) for k in range(c)]
                scores = [
                    sum(pred[k] * float(local[j, k, y, x]) for k in range(c)) for j in range(b)
                ]
                per_location += _row_loss(scores, i)
            total += per_location / b
    return total / (h * w)


def _slow_local_local(lt: torch.Tensor, ltp1: torch.Tensor, head: nn.Linear) -> float:
    b, c, h, w = lt.shape
    total = 0.0
    for y in range(h):
        for x in range(w):
            per_location = 0.0
            for i in range(b):
                pred = [float(head.bias[k] + head.weight[k] @ lt[i, :, y, x]) for k in range(c)]
                scores = [
                    sum(pred[k] * float(ltp1[j, k, y, x]) for k in range(c)) for j in range(b)
                ]
                per_location += _row_loss(scores, i)
            total += per_location / b
    return total / (h * w)


def _features(
    b: int = 5, d: int = 6, c: int = 4, h: int = 3, w: int = 2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, nn.Linear, nn.Linear]:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    global_t = torch.randn(b, d, generator=g, dtype=f64)
    local_t = torch.randn(b, c, h, w, generator=g, dtype=f64)
    local_tp1 = torch.randn(b, c, h, w, generator=g, dtype=f64)
    return global_t, local_t, local_tp1, nn.Linear(d, c, dtype=f64), nn.Linear(c, c, dtype=f64)


def test_global_local_matches_slow_reference() -> None:
    global_t, _, local_tp1, head, _ = _features()
    out = global_local_infonce(global_t, local_tp1, head)
    assert out.shape == ()
    with torch.no_grad():
        ref = _slow_global_local(global_t, local_tp1, head)
    assert out.item() == pytest.approx(ref, abs=1e-6)


def test_local_local_matches_slow_reference() -> None:
    _, local_t, local_tp1, _, head = _features(seed=1)
    out = local_local_infonce(local_t, local_tp1, head)
    assert out.shape == ()
    with torch.no_grad():
        ref = _slow_local_local(local_t, local_tp1, head)
    assert out.item() == pytest.approx(ref, abs=1e-6)


def test_stdim_loss_is_the_sum() -> None:
    global_t, local_t, local_tp1, gh, lh = _features(seed=2)
    total = stdim_loss(global_t, local_t, local_tp1, gh, lh)
    with torch.no_grad():
        ref = _slow_global_local(global_t, local_tp1, gh) + _slow_local_local(
            local_t, local_tp1, lh
        )
    assert total.item() == pytest.approx(ref, abs=1e-6)


def test_zero_scores_give_log_batch() -> None:
    global_t, local_t, local_tp1, gh, lh = _features(b=7)
    with torch.no_grad():
        for p in (*gh.parameters(), *lh.parameters()):
            p.zero_()
    assert global_local_infonce(global_t, local_tp1, gh).item() == pytest.approx(math.log(7))
    assert local_local_infonce(local_t, local_tp1, lh).item() == pytest.approx(math.log(7))


def test_rejects_bad_shapes() -> None:
    global_t, local_t, local_tp1, gh, lh = _features()
    with pytest.raises(ValueError, match="batch sizes differ"):
        global_local_infonce(global_t[:3], local_tp1, gh)
    with pytest.raises(ValueError, match="batch sizes differ"):
        local_local_infonce(local_t, local_tp1[:4], lh)
    with pytest.raises(ValueError, match="at least 2"):
        global_local_infonce(global_t[:1], local_tp1[:1], gh)
    with pytest.raises(ValueError, match="at least 2"):
        local_local_infonce(local_t[:1], local_tp1[:1], lh)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        global_local_infonce(global_t, local_tp1.flatten(1), gh)
    with pytest.raises(ValueError, match="local maps differ"):
        local_local_infonce(local_t, local_tp1[:, :, :2], lh)
    with pytest.raises(ValueError, match="classifier gave"):
        global_local_infonce(global_t, local_tp1, nn.Linear(6, 3, dtype=torch.float64))


def test_training_heads_lowers_loss_when_next_equals_now() -> None:
    global_t, local_t, _, gh, lh = _features(b=8, d=16, c=8, h=3, w=3)
    gh, lh = gh.float(), lh.float()
    global_t, local_t = global_t.float(), local_t.float()
    opt = torch.optim.Adam([*gh.parameters(), *lh.parameters()], lr=3e-2)

    def loss() -> torch.Tensor:
        return stdim_loss(global_t, local_t, local_t, gh, lh)

    before = loss().item()
    for _ in range(40):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < 0.5 * before


@pytest.mark.parametrize(
    ("encoder", "layer", "shape"),
    [
        (NatureCNN(4, 16, 84, 84), -1, (64, 7, 7)),
        (NatureCNN(1, 16, 210, 160), -1, (64, 22, 16)),
        (NatureCNN(4, 16, 84, 84), 0, (32, 20, 20)),
        (SmallCNN(4, 16, 84, 84), -1, (32, 9, 9)),
    ],
)
def test_local_and_global_is_one_pass_of_the_encoder(
    encoder: NatureCNN, layer: int, shape: tuple[int, int, int]
) -> None:
    x = torch.randint(0, 256, (2, *encoder.input_shape), dtype=torch.uint8)
    local, global_ = local_and_global(encoder, x, layer)
    assert tuple(local.shape) == (2, *shape)
    torch.testing.assert_close(global_, encoder(x))
    n_modules = 2 * (layer % (len(encoder.conv) // 2) + 1)  # Conv2d/ReLU pairs up to the layer
    torch.testing.assert_close(local, encoder.conv[:n_modules](x.float() / 255.0))


def test_local_and_global_contracts() -> None:
    enc = NatureCNN(1, 16, 84, 84)
    with pytest.raises(ValueError, match="encoder expects"):
        local_and_global(enc, torch.zeros(2, 4, 84, 84, dtype=torch.uint8))
    with pytest.raises(ValueError, match="out of range"):
        local_and_global(enc, torch.zeros(2, 1, 84, 84), conv_layer=3)


def _stdim() -> STDIM:
    torch.manual_seed(0)
    return STDIM(NatureCNN(in_channels=1, feature_dim=16, height=84, width=84), feature_dim=16)


def test_stdim_heads_and_parameters() -> None:
    model = _stdim()
    c, h, w = model.local_shape
    assert h >= 1 and w >= 1
    assert model.global_head.out_features == c == model.local_head.in_features
    params = list(model.online_parameters())
    assert len(params) == len(list(model.parameters()))
    assert {id(p) for p in model.encoder.parameters()} <= {id(p) for p in params}
    assert not hasattr(model, "update_target")
    with pytest.raises(ValueError, match="feature_dim"):
        STDIM(NatureCNN(1, 16, 84, 84), feature_dim=32)


def test_stdim_loss_is_finite_and_reaches_first_conv() -> None:
    model = _stdim()
    g = torch.Generator().manual_seed(0)
    obs = torch.randint(0, 256, (4, 1, 84, 84), dtype=torch.uint8, generator=g)
    loss = model.loss(obs, obs.roll(1, dims=-1))
    assert loss.shape == () and torch.isfinite(loss)
    loss.backward()
    grad = model.encoder.conv[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0
    with pytest.raises(ValueError, match="differ"):
        model.loss(obs, obs[:2])


def test_stdim_training_lowers_loss() -> None:
    model = _stdim()
    g = torch.Generator().manual_seed(1)
    obs = torch.randint(0, 256, (8, 1, 84, 84), dtype=torch.uint8, generator=g)
    obs_next = obs.roll(2, dims=-1)  # the partner shares content with its frame
    opt = torch.optim.Adam(model.online_parameters(), lr=1e-3)

    def eval_loss() -> float:
        with torch.no_grad():
            return model.loss(obs, obs_next).item()

    before = eval_loss()
    for _ in range(15):
        opt.zero_grad()
        model.loss(obs, obs_next).backward()
        opt.step()
    assert eval_loss() < 0.8 * before  # ~4.5 -> ~3.1 here; 2 log 8 = 4.16 is chance
