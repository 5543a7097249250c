"""APPO on our module: the config RLlib gets, and the target network its loss reads (the
module is built as RLlib builds it; no Ray needed). tests/integration/test_rl.py trains it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from agents.learners import TransferAPPOLearner, TransferPPOLearner
from agents.ppo import build_algo_config
from agents.rl_module import TargetActorCriticModule, encoder_model_config
from models.encoder import EncoderSpec
from pipelines.core.config import load_config


def test_appo_config_uses_our_module_learner_and_epochs() -> None:
    rl = load_config("smoke", sets=("rl.algorithm=appo", "rl.num_epochs=3")).rl
    config = build_algo_config("ALE/Pong-v5", rl, seed=0)
    assert type(config).__name__ == "APPOConfig"
    assert config.learner_class is TransferAPPOLearner
    assert config.rl_module_spec.module_class is TargetActorCriticModule
    assert config.vtrace and config.circular_buffer_iterations_per_batch == 3
    assert config.use_kl_loss is False and config.lr == rl.lr
    ppo = build_algo_config("ALE/Pong-v5", load_config("smoke").rl, seed=0)
    assert ppo.learner_class is TransferPPOLearner and type(ppo).__name__ == "PPOConfig"


def test_target_network_starts_as_a_frozen_copy_and_lags_behind() -> None:
    spec = EncoderSpec("small_cnn", 4, 84, 84, 32)
    module = TargetActorCriticModule(
        observation_space=gym.spaces.Box(0, 255, (4, 84, 84), np.uint8),
        action_space=gym.spaces.Discrete(6),
        model_config=encoder_model_config(spec, None, "scratch"))
    module.make_target_networks()
    ((main, target),) = module.get_target_network_pairs()
    assert all(not p.requires_grad for p in target.parameters())
    obs = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    batch = {"obs": obs}
    online = module.forward_train(batch)["action_dist_inputs"]
    old = module.forward_target(batch)["target_network_action_dist_inputs"]
    assert torch.allclose(online, old)  # a copy at first
    with torch.no_grad():
        for p in main.parameters():
            p.add_(0.1)
    moved = module.forward_train(batch)["action_dist_inputs"]
    assert not torch.allclose(moved, module.forward_target(batch)[
        "target_network_action_dist_inputs"])  # the target lags until the learner syncs it
    assert "_old_net" in module.get_non_inference_attributes()
