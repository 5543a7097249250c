"""Policy checkpoints round-trip without unpickling; wrong or missing files are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.actor_critic import ActorCritic
from models.encoder import EncoderSpec, SmallCNN, build_encoder
from models.policy_checkpoint import (
    PolicyActions,
    PolicyCheckpointError,
    load_policy,
    load_policy_actions,
    save_policy,
)

SPEC = EncoderSpec("small_cnn", 4, 84, 84, 32)


def _net() -> ActorCritic:
    torch.manual_seed(0)
    return ActorCritic(build_encoder(SPEC), SPEC.feature_dim, 6)


def test_round_trip(tmp_path: Path) -> None:
    net = _net()
    save_policy(net, SPEC, 6, tmp_path)
    loaded, spec = load_policy(tmp_path)
    assert spec == SPEC and isinstance(loaded.encoder, SmallCNN)
    x = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    torch.testing.assert_close(loaded.logits(loaded.features(x)), net.logits(net.features(x)))


def test_missing_meta(tmp_path: Path) -> None:
    with pytest.raises(PolicyCheckpointError, match=r"policy\.json missing"):
        load_policy(tmp_path)


def test_wrong_shape(tmp_path: Path) -> None:
    save_policy(_net(), SPEC, 6, tmp_path)
    (tmp_path / "policy.json").write_text(
        '{"encoder": {"arch": "small_cnn", "in_channels": 4, "height": 84, "width": 84, '
        '"feature_dim": 16}, "num_actions": 6}')
    with pytest.raises(PolicyCheckpointError, match="do not fit"):
        load_policy(tmp_path)


def test_refuses_pickled_objects(tmp_path: Path) -> None:
    save_policy(_net(), SPEC, 6, tmp_path)
    torch.save({"obj": object()}, tmp_path / "policy.pt")  # not only tensors
    with pytest.raises(PolicyCheckpointError, match="refusing to unpickle"):
        load_policy(tmp_path)


@pytest.mark.parametrize("arch", ["nature_cnn", "small_cnn"])
def test_archs_share_the_encoder_interface(arch: str) -> None:
    enc = build_encoder(EncoderSpec(arch, 4, 84, 84, 24))
    assert enc(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape == (2, 24)
    with pytest.raises(ValueError, match="encoder expects"):
        enc(torch.zeros(2, 1, 84, 84))


def test_unknown_arch() -> None:
    with pytest.raises(ValueError, match="unknown encoder arch 'resnet'"):
        build_encoder(EncoderSpec("resnet"))


def test_action_set_round_trips_and_defaults_to_full(tmp_path: Path) -> None:
    net = ActorCritic(build_encoder(SPEC), SPEC.feature_dim, 2)
    save_policy(net, SPEC, 2, tmp_path / "two", "up_down", (2, 3))
    assert load_policy_actions(tmp_path / "two") == PolicyActions("up_down", (2, 3))
    assert load_policy(tmp_path / "two")[0].policy.out_features == 2
    save_policy(_net(), SPEC, 6, tmp_path / "full")
    assert load_policy_actions(tmp_path / "full") == PolicyActions("full", tuple(range(6)))
    # A checkpoint from before the action set was recorded: its outputs are the env's actions.
    (tmp_path / "full" / "policy.json").write_text(
        '{"encoder": {"arch": "small_cnn"}, "num_actions": 6}')
    assert load_policy_actions(tmp_path / "full") == PolicyActions("full", tuple(range(6)))
    with pytest.raises(ValueError, match="2 policy outputs but 3 env actions"):
        save_policy(net, SPEC, 2, tmp_path / "bad", "up_down", (2, 3, 4))
