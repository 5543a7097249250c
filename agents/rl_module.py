"""RLlib RLModule (new API stack) that wraps a `models/` encoder and actor-critic heads.

The encoder is built from scratch (`arch`, `feature_dim`) or from a pretrained checkpoint
shipped inside `model_config` (`encoder_spec` + `encoder_state` bytes, so remote learners and
env runners on other nodes need no shared disk). `transfer` picks what trains:
`scratch` and `finetune` train everything (finetune with its own lr, see agents/learners.py),
`frozen` keeps the pretrained encoder fixed and trains only the heads.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from typing import Any

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import (
    TARGET_NETWORK_ACTION_DIST_INPUTS,
    TargetNetworkAPI,
    ValueFunctionAPI,
)
from ray.rllib.core.rl_module.torch import TorchRLModule

from models.actor_critic import ActorCritic
from models.encoder import EncoderSpec, build_encoder

TRANSFER_MODES = ("scratch", "frozen", "finetune")


def encoder_model_config(spec: EncoderSpec, state: dict[str, torch.Tensor] | None,
                         transfer: str) -> dict[str, Any]:
    """The `model_config` entries that carry an encoder (and its weights) to every actor."""
    if transfer not in TRANSFER_MODES:
        raise ValueError(f"transfer must be one of {TRANSFER_MODES}, got {transfer!r}")
    if transfer != "scratch" and state is None:
        raise ValueError(f"transfer={transfer!r} needs pretrained encoder weights")
    blob = None
    if state is not None:
        buf = io.BytesIO()
        torch.save(state, buf)
        blob = buf.getvalue()
    return {"encoder_spec": asdict(spec), "encoder_state": blob, "transfer": transfer}


class ActorCriticModule(TorchRLModule, ValueFunctionAPI):
    """Discrete-action actor-critic over uint8 (C, H, W) frame stacks."""

    def setup(self) -> None:
        cfg = self.model_config
        spec = EncoderSpec(**cfg["encoder_spec"]) if "encoder_spec" in cfg else EncoderSpec(
            arch=cfg.get("arch", "nature_cnn"), feature_dim=int(cfg.get("feature_dim", 512)))
        obs_shape = tuple(self.observation_space.shape)
        if spec.input_shape != obs_shape:
            raise ValueError(f"encoder input {spec.input_shape} does not match the env's "
                             f"observations {obs_shape}")
        encoder = build_encoder(spec)
        if cfg.get("encoder_state") is not None:
            state = torch.load(io.BytesIO(cfg["encoder_state"]), weights_only=True)
            encoder.load_state_dict(state)
        self.transfer = cfg.get("transfer", "scratch")
        if self.transfer == "frozen":
            encoder.requires_grad_(False)
        self.net = ActorCritic(encoder, spec.feature_dim, int(self.action_space.n))

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        if self.transfer == "frozen":
            with torch.no_grad():  # no activations kept for a backward that never comes
                return self.net.features(obs)
        return self.net.features(obs)

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {Columns.ACTION_DIST_INPUTS: self.net.logits(self._features(batch[Columns.OBS]))}

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        features = self._features(batch[Columns.OBS])
        return {Columns.ACTION_DIST_INPUTS: self.net.logits(features),
                Columns.EMBEDDINGS: features}

    def compute_values(self, batch: dict[str, Any],
                       embeddings: torch.Tensor | None = None) -> torch.Tensor:
        if embeddings is None:
            # Called without embeddings only for GAE's value bootstrap over the whole batch
            # (the PPO loss passes its forward pass's embeddings): no graph needed there.
            with torch.no_grad():
                return self.net.values(self._features(batch[Columns.OBS]))
        return self.net.values(embeddings)

    def encoder_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.net.encoder.parameters() if p.requires_grad]

    def head_parameters(self) -> list[torch.nn.Parameter]:
        return [*self.net.policy.parameters(), *self.net.value.parameters()]


class TargetActorCriticModule(ActorCriticModule, TargetNetworkAPI):
    """The same actor-critic with the target network APPO's loss needs: a lagging copy of the
    encoder and policy head whose logits anchor the clipped surrogate (the learner syncs it
    every `target_network_update_freq` updates)."""

    def make_target_networks(self) -> None:
        self._old_net = make_target_network(self.net)

    def get_target_network_pairs(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        return [(self.net, self._old_net)]

    def forward_target(self, batch: dict[str, Any]) -> dict[str, Any]:
        old = self._old_net
        return {TARGET_NETWORK_ACTION_DIST_INPUTS: old.logits(old.features(batch[Columns.OBS]))}

    def get_non_inference_attributes(self) -> list[str]:
        """What env runners (inference only) need not build: the target network."""
        return ["_old_net"]
