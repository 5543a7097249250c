"""The encoder interface: the one seam shared by pretraining, probes and the RL policy.

An encoder maps a batch of grayscale frames (B, C, H, W), uint8 in [0, 255] or float in
[0, 1], to features (B, feature_dim). Two views are used: the policy's 4x84x84 frame stack
and AtariARI's full-resolution 1x210x160 single frame. Scaling uint8 inside the encoder lets
env runners and data loaders ship compact uint8 tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn


@dataclass(frozen=True)
class EncoderSpec:
    """Everything needed to rebuild an encoder before loading its weights."""

    arch: str = "nature_cnn"
    in_channels: int = 4
    height: int = 84
    width: int = 84
    feature_dim: int = 512

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.height, self.width)


class ConvEncoder(nn.Module):
    """Convs (out_channels, kernel, stride) with ReLUs, flattened, then one linear layer.

    The features are linear (no final activation, as AtariARI's encoder): a final ReLU left
    40-85% of the units dead after SSL training here, starving the linear probes. Heads that
    want non-negative inputs (the actor-critic) apply their own ReLU.
    """

    nhwc_on_cpu: ClassVar[bool] = True  # see forward(); benchmarks switch it off to compare

    def __init__(self, arch: str, convs: tuple[tuple[int, int, int], ...], in_channels: int,
                 feature_dim: int, height: int, width: int):
        super().__init__()
        self.spec = EncoderSpec(arch, in_channels, height, width, feature_dim)
        self.feature_dim = feature_dim
        layers: list[nn.Module] = []
        channels = in_channels
        for out, kernel, stride in convs:
            layers += [nn.Conv2d(channels, out, kernel_size=kernel, stride=stride), nn.ReLU()]
            channels = out
        self.conv = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            n_flat = self.conv(torch.zeros(1, in_channels, height, width)).shape[1]
        self.fc = nn.Sequential(nn.Linear(n_flat, feature_dim))
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.orthogonal_(m.weight, gain=nn.init.calculate_gain("relu"))
                nn.init.zeros_(m.bias)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.spec.input_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"encoder expects (B, {self.input_shape}), got {tuple(x.shape)}")
        if self.nhwc_on_cpu and x.device.type == "cpu" and torch.is_grad_enabled():
            # NHWC: oneDNN's CPU convs run a training step 1.8-2x faster (measured by
            # benchmarks/encoder_step.py); inference gains nothing, so it stays NCHW. Reorder
            # the uint8 tensor before converting: a quarter of the bytes to move.
            x = x.contiguous(memory_format=torch.channels_last)
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        return self.fc(self.conv(x))


class NatureCNN(ConvEncoder):
    """The DQN Nature paper's convnet (Mnih et al. 2015) with a configurable feature size and
    input size (84x84 stacks or 210x160 full frames)."""

    CONVS = ((32, 8, 4), (64, 4, 2), (64, 3, 1))

    def __init__(self, in_channels: int = 4, feature_dim: int = 512, height: int = 84,
                 width: int = 84):
        super().__init__("nature_cnn", self.CONVS, in_channels, feature_dim, height, width)


class SmallCNN(ConvEncoder):
    """The first DQN convnet (Mnih et al. 2013, 16 and 32 filters): 3.0M multiply-adds per
    4x84x84 observation against NatureCNN's 9.3M, which is what a 2-core PPO learner needs."""

    CONVS = ((16, 8, 4), (32, 4, 2))

    def __init__(self, in_channels: int = 4, feature_dim: int = 256, height: int = 84,
                 width: int = 84):
        super().__init__("small_cnn", self.CONVS, in_channels, feature_dim, height, width)


ARCHS: dict[str, type[ConvEncoder]] = {
    "nature_cnn": NatureCNN, "small_cnn": SmallCNN}


def build_encoder(spec: EncoderSpec) -> ConvEncoder:
    if spec.arch not in ARCHS:
        raise ValueError(f"unknown encoder arch {spec.arch!r} (known: {', '.join(ARCHS)})")
    return ARCHS[spec.arch](spec.in_channels, spec.feature_dim, spec.height, spec.width)
