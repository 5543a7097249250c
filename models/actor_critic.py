"""Policy and value heads over a shared encoder (the PPO / REINFORCE network)."""

from __future__ import annotations

import torch
from torch import nn


class ActorCritic(nn.Module):
    """Encoder features -> action logits and a state value."""

    def __init__(self, encoder: nn.Module, feature_dim: int, num_actions: int):
        super().__init__()
        self.encoder = encoder
        self.policy = nn.Linear(feature_dim, num_actions)
        self.value = nn.Linear(feature_dim, 1)
        # Small policy init keeps the first policy near uniform (CleanRL / SB3 practice).
        nn.init.orthogonal_(self.policy.weight, gain=0.01)
        nn.init.zeros_(self.policy.bias)
        nn.init.orthogonal_(self.value.weight, gain=1.0)
        nn.init.zeros_(self.value.bias)

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        # ReLU on the encoder's linear features: the Nature-CNN policy network as published.
        return torch.relu(self.encoder(obs))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.policy(features)

    def values(self, features: torch.Tensor) -> torch.Tensor:
        return self.value(features).squeeze(-1)
