"""ATC: frozen momentum copies kept out of the optimiser, exact EMA maths, the loss is InfoNCE
over bilinear scores of shifted views, and training lowers it."""

from __future__ import annotations

import pytest
import torch

from models.atc import ATC
from models.augment import random_shift
from models.encoder import NatureCNN
from models.info_nce import info_nce


def _atc(momentum: float = 0.9, channels: int = 4, size: int = 84) -> ATC:
    torch.manual_seed(0)
    return ATC(NatureCNN(channels, 32, size, size), feature_dim=32, latent_dim=16,
               hidden_dim=32, momentum=momentum, pad=4)


def _obs(b: int = 8, channels: int = 4, size: int = 84,
         seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs (o_t, o_{t+k}): a bright square per sample that moves 2 pixels between the two.

    Structured frames, not white noise: a shifted view of noise shares nothing with the
    original, so there would be no temporal/augmentation invariant for ATC to learn.
    """
    g = torch.Generator().manual_seed(seed)
    side = size // 4
    obs_t = torch.zeros(b, channels, size, size, dtype=torch.uint8)
    obs_tk = torch.zeros_like(obs_t)
    for n in range(b):
        r, c = torch.randint(2, size - side - 4, (2,), generator=g).tolist()
        obs_t[n, :, r:r + side, c:c + side] = 200
        obs_tk[n, :, r + 2:r + 2 + side, c + 2:c + 2 + side] = 200
    return obs_t, obs_tk


def test_target_frozen_and_excluded_from_online_parameters() -> None:
    atc = _atc()
    target = list(atc.target_encoder.parameters()) + list(atc.target_compressor.parameters())
    assert target and all(not p.requires_grad for p in target)
    online = list(atc.online_parameters())
    online_ids = {id(p) for p in online}
    assert not online_ids & {id(p) for p in target}
    assert all(p.requires_grad for p in online)
    for module in (atc.encoder, atc.compressor, atc.predictor):
        assert {id(p) for p in module.parameters()} <= online_ids
    assert id(atc.W) in online_ids
    assert len(online) + len(target) == len(list(atc.parameters()))


def test_encoder_is_the_one_passed_in_and_target_starts_equal() -> None:
    enc = NatureCNN(4, 32, 84, 84)
    atc = ATC(enc, feature_dim=32, latent_dim=16, hidden_dim=32)
    assert atc.encoder is enc
    assert atc.target_encoder is not enc
    for t, o in zip(atc.target_encoder.parameters(), enc.parameters(), strict=True):
        assert torch.equal(t, o) and t.data_ptr() != o.data_ptr()


def test_update_target_ema_is_exact() -> None:
    m = 0.9
    atc = _atc(momentum=m)
    with torch.no_grad():
        for p in atc.online_parameters():
            p.add_(torch.randn_like(p))
    old_t = atc.target_encoder.fc[0].weight.clone()
    online = atc.encoder.fc[0].weight.clone()
    old_tc = atc.target_compressor.bias.clone()
    online_c = atc.compressor.bias.clone()
    atc.update_target()
    torch.testing.assert_close(atc.target_encoder.fc[0].weight, m * old_t + (1 - m) * online)
    torch.testing.assert_close(atc.target_compressor.bias, m * old_tc + (1 - m) * online_c)
    assert not torch.equal(atc.target_encoder.fc[0].weight, old_t)
    torch.testing.assert_close(atc.encoder.fc[0].weight, online)  # online untouched


def test_loss_matches_manual_composition() -> None:
    atc = _atc()
    obs_t, obs_tk = _obs()
    loss = atc.loss(obs_t, obs_tk, generator=torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    a = atc.predictor(atc.compressor(atc.encoder(random_shift(obs_t, 4, g))))
    with torch.no_grad():
        t = atc.target_compressor(atc.target_encoder(random_shift(obs_tk, 4, g)))
    logits = a @ atc.W @ t.T
    assert logits.shape == (8, 8)
    assert loss.shape == ()
    torch.testing.assert_close(loss, info_nce(logits))


def test_gradients_reach_online_only() -> None:
    atc = _atc()
    atc.loss(*_obs(), generator=torch.Generator().manual_seed(0)).backward()
    assert all(p.grad is None for p in atc.target_encoder.parameters())
    assert atc.encoder.fc[0].weight.grad is not None
    assert atc.W.grad is not None and atc.W.grad.abs().sum() > 0


def test_rejects_mismatched_pairs() -> None:
    atc = _atc()
    obs_t, _ = _obs()
    with pytest.raises(ValueError, match="differ"):
        atc.loss(obs_t, obs_t[:4])


def test_training_lowers_loss() -> None:
    atc = _atc(momentum=0.9)
    obs_t, obs_tk = _obs(b=16)
    opt = torch.optim.Adam(atc.online_parameters(), lr=3e-3)

    def eval_loss() -> float:
        with torch.no_grad():
            return atc.loss(obs_t, obs_tk, generator=torch.Generator().manual_seed(123)).item()

    before = eval_loss()
    g = torch.Generator().manual_seed(1)
    for _ in range(10):
        opt.zero_grad()
        atc.loss(obs_t, obs_tk, generator=g).backward()
        opt.step()
        atc.update_target()
    assert eval_loss() < 0.7 * before
