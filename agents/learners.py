"""RLlib learners: PPO and APPO with transfer-aware optimizers, and the course's REINFORCE.

All reuse RLlib's learner machinery (connectors, GAE or V-trace, gradient clipping, metrics);
they change only what no RLlib setting expresses: a separate learning rate for a fine-tuned
encoder, rewards clipped on the learner, and the vanilla policy-gradient loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ray.rllib.algorithms.appo.torch.appo_torch_learner import APPOTorchLearner
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.common import NumpyToTensor
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.learner import GeneralAdvantageEstimation
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.learner import ENTROPY_KEY, POLICY_LOSS_KEY
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.utils.typing import ModuleID


class ClipRewards(ConnectorV2):
    """Learner connector: rewards clipped to [-1, 1] before GAE (Mnih et al. 2015), so one
    learning rate fits every game. Env runners keep the raw rewards, hence episode returns in
    the metrics are real scores. (RLlib's `clip_rewards` setting is old-API-stack only.)"""

    def __call__(self, *, rl_module: Any, batch: dict[str, Any], episodes: Any,
                 **kwargs: Any) -> Any:
        for module_batch in batch.values():
            if Columns.REWARDS in module_batch:
                rewards = np.asarray(module_batch[Columns.REWARDS], dtype=np.float32)
                module_batch[Columns.REWARDS] = np.clip(rewards, -1.0, 1.0)
        return batch


class TransferOptimizers:
    """Optimizers that follow the module's transfer mode (mixed into a torch learner).

    `finetune` gives the pretrained encoder its own Adam at `lr * finetune_lr_scale` (a scale
    below 1 keeps pretrained features from early, noisy policy gradients; measured on Pong,
    0.1 learned far slower than 1.0); `frozen` registers only the heads.
    """

    def configure_optimizers_for_module(self, module_id: ModuleID, config: Any = None) -> None:
        module = self._module[module_id].unwrapped()  # type: ignore[attr-defined]
        transfer = getattr(module, "transfer", "scratch")
        if transfer == "scratch":
            super().configure_optimizers_for_module(module_id, config)  # type: ignore[misc]
            return
        heads = module.head_parameters()
        self.register_optimizer(module_id=module_id,  # type: ignore[attr-defined]
                                optimizer=torch.optim.Adam(heads), params=heads,
                                lr_or_lr_schedule=config.lr)
        if transfer == "finetune":
            scale = float(config.learner_config_dict.get("finetune_lr_scale", 1.0))
            enc = module.encoder_parameters()
            self.register_optimizer(module_id=module_id,  # type: ignore[attr-defined]
                                    optimizer_name="encoder", optimizer=torch.optim.Adam(enc),
                                    params=enc, lr_or_lr_schedule=config.lr * scale)


class TransferPPOLearner(TransferOptimizers, PPOTorchLearner):
    """PPO with transfer-aware optimizers and rewards clipped before GAE."""

    def build(self) -> None:
        super().build()
        if self.config.learner_config_dict.get("clip_rewards", True):
            self._learner_connector.insert_before(GeneralAdvantageEstimation, ClipRewards())


class TransferAPPOLearner(TransferOptimizers, APPOTorchLearner):
    """APPO (asynchronous PPO with V-trace, RLlib's choice for Pong on clusters) with the same
    optimizers and clipped rewards: the loss computes V-trace from the batch's rewards, so
    they are clipped while still numpy, before the batch becomes tensors."""

    def build(self) -> None:
        super().build()
        if self.config.learner_config_dict.get("clip_rewards", True):
            self._learner_connector.insert_before(NumpyToTensor, ClipRewards())


class ReinforceLearner(TransferPPOLearner):
    """REINFORCE (Williams 1992), as in the course's Pong policy network: the loss is
    -log pi(a|s) * G_t with the discounted return G_t of complete episodes, standardised over
    the batch (Karpathy's "Pong from Pixels" trick), plus the entropy bonus.

    G_t is RLlib's value target with lambda = 1 on complete episodes (no bootstrap), so the
    same connector pipeline feeds both algorithms; the critic is not used.
    """

    def compute_loss_for_module(self, *, module_id: ModuleID, config: Any,
                                batch: dict[str, Any], fwd_out: dict[str, Any]) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        dist = module.get_train_action_dist_cls().from_logits(fwd_out[Columns.ACTION_DIST_INPUTS])
        returns = batch[Postprocessing.VALUE_TARGETS]
        advantage = (returns - returns.mean()) / (returns.std() + 1e-8)
        policy_loss = -(dist.logp(batch[Columns.ACTIONS]) * advantage).mean()
        entropy = dist.entropy().mean()
        self.metrics.log_dict({POLICY_LOSS_KEY: policy_loss, ENTROPY_KEY: entropy},
                              key=module_id, window=1)
        coeff = self.entropy_coeff_schedulers_per_module[module_id].get_current_value()
        return policy_loss - coeff * entropy
