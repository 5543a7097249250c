"""The project's own frozen frame encoder, as the feature space of the multimodal, few-shot and
generative stages (and of their Frechet distance).

By default the registry's `champion` (the pretraining stage's best self-supervised encoder).
Where none is registered (a stage run alone on a fresh store), a seeded random-init
NatureCNN stands in, loudly: the pretraining stage measured that random features of this
encoder probe nearly as well as trained ones (docs/pretraining.md), and the run's tag
`arcadelab.frame_encoder` says which one was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from torch import nn

from models.encoder import EncoderSpec
from pipelines.core.registry import RegistryError, encoder_or_random
from pipelines.data.modalities import SMALL, STACK, ModalSplit
from pipelines.features.extract import encode, rebuild_encoder
from pipelines.features.standardize import Standardizer

STACK84 = (STACK, SMALL, SMALL)
FULL = (1, 210, 160)


@dataclass(frozen=True)
class FrozenEncoder:
    encoder: nn.Module
    spec: EncoderSpec
    source: str  # e.g. "arcadelab-encoder@champion (v3)" or "random init (seed 0)"

    @property
    def needs_full(self) -> bool:
        return self.spec.input_shape == FULL

    def state(self) -> dict[str, Any]:
        """What a Ray task needs to rebuild it (weights and spec, no pickled module)."""
        return {"spec": self.spec.__dict__, "weights": self.encoder.state_dict(),
                "source": self.source}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FrozenEncoder:
        spec = EncoderSpec(**state["spec"])
        return cls(rebuild_encoder(spec, state["weights"]), spec, state["source"])

    def embed_obs(self, obs: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Observations in the encoder's view (N, C, H, W) uint8 -> features (N, D)."""
        if len(obs) == 0:
            return np.zeros((0, self.spec.feature_dim), np.float32)
        return encode(self.encoder, obs, batch_size)

    def features(self, split: ModalSplit, batch_size: int = 512) -> np.ndarray:
        """Features of every row of a split, in its encoder's view (stack84 or full)."""
        if self.needs_full:
            if split.full is None:
                raise ValueError("this encoder reads full frames: load the split with "
                                 "keep_full=True")
            return np.concatenate([self.embed_obs(split.full[i:i + batch_size, None])
                                   for i in range(0, len(split), batch_size)])
        idx = split.stack_index(self.spec.in_channels)
        return np.concatenate([self.embed_obs(split.frames[idx[i:i + batch_size]])
                               for i in range(0, len(split), batch_size)])

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        """Single 84x84 frames (N, 84, 84) uint8 -> features, each frame shown as a static
        observation (repeated over the stack, or resized to 210x160 for a full-view encoder);
        how generated frames and real ones are compared in one feature space."""
        if self.needs_full:
            obs = np.stack([cv2.resize(f, (FULL[2], FULL[1]), interpolation=cv2.INTER_LINEAR)
                            for f in frames])[:, None]
        else:
            obs = np.repeat(frames[:, None], self.spec.in_channels, axis=1)
        return self.embed_obs(obs)


def load_frozen_encoder(alias: str, feature_dim: int, seed: int) -> FrozenEncoder:
    """`models:/arcadelab-encoder@<alias>`, or a seeded random-init NatureCNN for 'random' or
    when the alias is not registered (logged as a warning)."""
    random_spec = EncoderSpec(in_channels=STACK, height=SMALL, width=SMALL,
                              feature_dim=feature_dim)
    encoder, spec, source = encoder_or_random(alias, random_spec, seed, "frozen encoder")
    if spec.input_shape not in (STACK84, FULL):
        raise RegistryError(f"arcadelab-encoder@{alias} reads {spec.input_shape}; "
                            f"these stages read {STACK84} or {FULL} observations")
    return FrozenEncoder(encoder.eval(), spec, source)


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale every array with the train array's per-column mean and std (float32)."""
    scale = Standardizer.fit(train)
    return [scale.transform(a) for a in (train, *others)]
