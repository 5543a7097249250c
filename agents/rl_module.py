"""RLlib RLModule (new API stack) that wraps the `models/` encoder and actor-critic heads."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis import ValueFunctionAPI
from ray.rllib.core.rl_module.torch import TorchRLModule

from models.actor_critic import ActorCritic
from models.encoder import NatureCNN


class ActorCriticModule(TorchRLModule, ValueFunctionAPI):
    """Discrete-action actor-critic over uint8 (C, H, W) frame stacks.

    model_config: `feature_dim` (encoder output size).
    """

    def setup(self) -> None:
        c, h, w = self.observation_space.shape
        feature_dim = int(self.model_config.get("feature_dim", 512))
        encoder = NatureCNN(in_channels=c, feature_dim=feature_dim, height=h, width=w)
        self.net = ActorCritic(encoder, feature_dim, int(self.action_space.n))

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        features = self.net.features(batch[Columns.OBS])
        return {Columns.ACTION_DIST_INPUTS: self.net.logits(features)}

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        features = self.net.features(batch[Columns.OBS])
        return {Columns.ACTION_DIST_INPUTS: self.net.logits(features),
                Columns.EMBEDDINGS: features}

    def compute_values(self, batch: dict[str, Any],
                       embeddings: torch.Tensor | None = None) -> torch.Tensor:
        if embeddings is None:
            embeddings = self.net.features(batch[Columns.OBS])
        return self.net.values(embeddings)
