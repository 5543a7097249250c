"""A two-action (`up_down`) policy maps back to the game's actions wherever it is played
outside RLlib: the registered pyfunc's predictions and the data stage's behaviour policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow.pyfunc import PythonModelContext

from models.actor_critic import ActorCritic
from models.encoder import EncoderSpec, build_encoder
from models.policy_checkpoint import save_policy
from pipelines.data.rollouts import BehaviourPolicy, RolloutSpec, collect_rollout

SPEC = EncoderSpec("small_cnn", 4, 84, 84, 8)
PONG_UP_DOWN = (2, 3)  # RIGHT, LEFT in Pong's minimal action set


def _two_action_net() -> ActorCritic:
    torch.manual_seed(0)
    return ActorCritic(build_encoder(SPEC), SPEC.feature_dim, 2)


def test_pyfunc_predicts_env_actions(tmp_path: Path) -> None:
    from pipelines.core.policy_model import PolicyModel

    net = _two_action_net()
    save_policy(net, SPEC, 2, tmp_path / "policy", "up_down", PONG_UP_DOWN)
    model = PolicyModel()
    model.load_context(PythonModelContext({"policy": str(tmp_path / "policy")}, None))
    x = np.random.default_rng(0).integers(0, 256, (16, 4, 84, 84), dtype=np.uint8)
    got = model.predict(None, x)
    with torch.no_grad():
        outputs = net.logits(net.features(torch.as_tensor(x))).argmax(-1).numpy()
    np.testing.assert_array_equal(got, np.asarray(PONG_UP_DOWN)[outputs])


def test_behaviour_policy_records_the_env_actions_it_plays() -> None:
    net = _two_action_net()
    policy = BehaviourPolicy(SPEC, 2, net.state_dict(), "test", PONG_UP_DOWN)
    _, rows = collect_rollout(RolloutSpec("ALE/Pong-v5", 0, seed=0, steps=40, policy=policy))
    actions = set(rows.column("action").to_pylist())
    assert actions and actions <= set(PONG_UP_DOWN)
    with pytest.raises(ValueError, match="2 actions but env actions"):
        BehaviourPolicy(SPEC, 2, net.state_dict(), "test", (2, 3, 4))
