"""Unit tests for models/encoder.py (NatureCNN) and models/actor_critic.py (ActorCritic)."""

from __future__ import annotations

import pytest
import torch

from models.actor_critic import ActorCritic
from models.encoder import NatureCNN


def frames(batch: int, channels: int = 4, size: int = 84, seed: int = 0) -> torch.Tensor:
    """Random uint8 frame stacks (B, C, H, W)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, channels, size, size), dtype=torch.uint8, generator=g)


@pytest.fixture(scope="module")
def encoder() -> NatureCNN:
    """A small-feature encoder in eval mode, seeded for reproducibility."""
    torch.manual_seed(0)
    return NatureCNN(in_channels=4, feature_dim=64).eval()


@pytest.mark.parametrize("batch", [1, 3])
def test_output_shape_uint8(encoder: NatureCNN, batch: int) -> None:
    with torch.no_grad():
        out = encoder(frames(batch))
    assert out.shape == (batch, 64)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert (out < 0).any()  # linear features: no final ReLU to kill half the units


def test_output_shape_float(encoder: NatureCNN) -> None:
    with torch.no_grad():
        out = encoder(torch.rand(2, 4, 84, 84))
    assert out.shape == (2, 64)


def test_uint8_is_scaled_like_float(encoder: NatureCNN) -> None:
    x = frames(2, seed=1)
    with torch.no_grad():
        from_uint8 = encoder(x)
        from_float = encoder(x.float() / 255.0)
        unscaled = encoder(x.float())
    torch.testing.assert_close(from_uint8, from_float)
    assert not torch.allclose(from_uint8, unscaled)  # the scaling does happen


def test_output_depends_on_input(encoder: NatureCNN) -> None:
    with torch.no_grad():
        a = encoder(frames(1, seed=1))
        b = encoder(frames(1, seed=2))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize(
    ("in_channels", "feature_dim", "height", "width"),
    [(1, 32, 84, 84), (4, 512, 84, 84), (2, 16, 64, 64), (1, 64, 210, 160)],
)
def test_configurable_sizes(in_channels: int, feature_dim: int, height: int, width: int) -> None:
    enc = NatureCNN(in_channels=in_channels, feature_dim=feature_dim, height=height, width=width)
    assert enc.input_shape == (in_channels, height, width)
    x = torch.randint(0, 256, (2, in_channels, height, width), dtype=torch.uint8)
    with torch.no_grad():
        out = enc(x)
    assert out.shape == (2, feature_dim)


@pytest.mark.parametrize(
    "shape",
    [(2, 3, 84, 84), (2, 4, 64, 64), (2, 4, 84, 80), (4, 84, 84), (2, 84, 84, 4)],
)
def test_wrong_input_shape(encoder: NatureCNN, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="encoder expects"):
        encoder(torch.zeros(shape, dtype=torch.uint8))


def test_encoder_gradients_flow() -> None:
    torch.manual_seed(0)
    enc = NatureCNN(feature_dim=16)
    enc(torch.rand(2, 4, 84, 84)).sum().backward()
    first_conv = enc.conv[0]
    assert first_conv.weight.grad is not None
    assert first_conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(("batch", "num_actions"), [(1, 6), (5, 18)])
def test_actor_critic_shapes(batch: int, num_actions: int) -> None:
    torch.manual_seed(0)
    model = ActorCritic(NatureCNN(feature_dim=32), feature_dim=32, num_actions=num_actions)
    with torch.no_grad():
        feats = model.features(frames(batch))
        logits = model.logits(feats)
        values = model.values(feats)
    assert feats.shape == (batch, 32)
    assert logits.shape == (batch, num_actions)
    assert values.shape == (batch,)


def test_actor_critic_initial_policy_near_uniform() -> None:
    torch.manual_seed(0)
    model = ActorCritic(NatureCNN(feature_dim=32), feature_dim=32, num_actions=6)
    with torch.no_grad():
        probs = torch.softmax(model.logits(model.features(frames(4))), dim=-1)
    torch.testing.assert_close(probs, torch.full_like(probs, 1 / 6), atol=0.05, rtol=0)
    assert torch.count_nonzero(model.policy.bias) == 0
    assert torch.count_nonzero(model.value.bias) == 0


def test_actor_critic_rejects_bad_obs() -> None:
    model = ActorCritic(NatureCNN(feature_dim=8), feature_dim=8, num_actions=3)
    with pytest.raises(ValueError):
        model.features(torch.zeros(1, 3, 84, 84))


def test_actor_critic_applies_relu_to_features(encoder: NatureCNN) -> None:
    from models.actor_critic import ActorCritic

    net = ActorCritic(encoder, 64, 6)
    with torch.no_grad():
        feats = net.features(frames(2))
    assert (feats >= 0).all()
    torch.testing.assert_close(feats, torch.relu(encoder(frames(2))))
