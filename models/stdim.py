"""Spatio-Temporal DeepInfoMax (ST-DIM).

Anand, Racah, Ozair, Bengio, Côté, Hjelm 2019, "Unsupervised State Representation Learning in
Atari" (NeurIPS). Two InfoNCE tasks tie consecutive frames together: the global features of
frame t must pick, at every spatial location (h, w), the local conv feature of its own frame
t+1 among the batch (global-local), and the local feature of frame t at (h, w) must pick that
of frame t+1 at the same (h, w) (local-local). Scoring every patch, not only the whole frame,
keeps small objects (Pong's ball) in the features, which whole-frame contrast tends to drop.

Local maps are (B, C, H, W), the conv's own layout, so nothing is permuted before the loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from models.encoder import ConvEncoder

Projection = Callable[[torch.Tensor], torch.Tensor]


def local_and_global(
    encoder: ConvEncoder, x: torch.Tensor, conv_layer: int = -1
) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass of `encoder` giving a conv feature map and the encoder's usual features.

    Shape contract: x (B, *encoder.input_shape), uint8 in [0, 255] or float in [0, 1] ->
    (local (B, C, H, W), global (B, feature_dim)); global equals encoder(x).

    `conv_layer` indexes the Conv2d layers (Python-style, so -1 is the last) and the map is
    taken after that conv's activation. The last conv is the default: AtariARI takes an
    intermediate map of its deeper 4-conv net, but our 2-3-conv encoders' last map is still
    spatially resolved (7x7 at 84x84, 22x16 at 210x160 for NatureCNN), has the widest receptive
    field, and is what the global features are read from.
    """
    if tuple(x.shape[1:]) != encoder.input_shape:
        raise ValueError(f"encoder expects (B, {encoder.input_shape}), got {tuple(x.shape)}")
    *layers, flatten = encoder.conv
    if not isinstance(flatten, nn.Flatten):
        raise ValueError(f"encoder.conv must end with nn.Flatten, got {type(flatten).__name__}")
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    if not -len(convs) <= conv_layer < len(convs):
        raise ValueError(f"conv_layer {conv_layer} out of range for {len(convs)} conv layers")
    k = conv_layer % len(convs)
    # The map is the output just before the next conv (after the chosen conv's ReLU).
    take = convs[k + 1] - 1 if k + 1 < len(convs) else len(layers) - 1
    if encoder.nhwc_on_cpu and x.device.type == "cpu" and torch.is_grad_enabled():
        x = x.contiguous(memory_format=torch.channels_last)  # as ConvEncoder.forward
    x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
    local = x
    for i, module in enumerate(layers):
        x = module(x)
        if i == take:
            local = x
    return local, encoder.fc(flatten(x))


def _check_batch(name: str, batch: int, local: torch.Tensor) -> None:
    if local.dim() != 4:
        raise ValueError(f"{name}: local map must be (B, C, H, W), got {tuple(local.shape)}")
    if local.shape[0] != batch:
        raise ValueError(f"{name}: batch sizes differ ({batch} vs {local.shape[0]})")
    if batch < 2:
        raise ValueError(f"{name}: needs a batch of at least 2 (in-batch negatives), got {batch}")


def _diagonal_infonce(logits: torch.Tensor) -> torch.Tensor:
    """(H, W, B, B) scores, positives on each location's diagonal -> mean cross entropy.

    Every location has B rows, so the mean over all rows is the mean over locations.
    """
    h, w, b, _ = logits.shape
    targets = torch.arange(b, device=logits.device).repeat(h * w)
    return F.cross_entropy(logits.reshape(h * w * b, b), targets)


def global_local_infonce(
    global_t: torch.Tensor, local_tp1: torch.Tensor, classifier: Projection
) -> torch.Tensor:
    """InfoNCE of global features at t against local features at t+1, per location.

    Shape contract: global_t (B, D), local_tp1 (B, C, H, W), classifier (B, D) -> (B, C) ->
    scalar. Score [h, w, i, j] = classifier(global_t[i]) . local_tp1[j, :, h, w].
    """
    if global_t.dim() != 2:
        raise ValueError(f"global_t must be (B, D), got {tuple(global_t.shape)}")
    _check_batch("global_local_infonce", global_t.shape[0], local_tp1)
    pred = classifier(global_t)
    if pred.shape != (global_t.shape[0], local_tp1.shape[1]):
        raise ValueError(f"classifier gave {tuple(pred.shape)}, local has C={local_tp1.shape[1]}")
    return _diagonal_infonce(torch.einsum("ic,jchw->hwij", pred, local_tp1))


def local_local_infonce(
    local_t: torch.Tensor, local_tp1: torch.Tensor, projection: Projection
) -> torch.Tensor:
    """InfoNCE of local features at t against those at t+1 in the same location.

    Shape contract: local_t, local_tp1 (B, C, H, W), projection (..., C) -> (..., C) ->
    scalar. Score [h, w, i, j] = projection(local_t[i, :, h, w]) . local_tp1[j, :, h, w].
    """
    _check_batch("local_local_infonce", local_t.shape[0], local_tp1)
    if local_t.shape != local_tp1.shape:
        raise ValueError(f"local maps differ: {tuple(local_t.shape)} vs {tuple(local_tp1.shape)}")
    pred = projection(local_t.permute(0, 2, 3, 1))  # Linear acts on the last (channel) dim
    if pred.shape != local_t.permute(0, 2, 3, 1).shape:
        raise ValueError(f"projection gave {tuple(pred.shape)}, expected (B, H, W, C)")
    return _diagonal_infonce(torch.einsum("ihwc,jchw->hwij", pred, local_tp1))


def stdim_loss(
    global_t: torch.Tensor,
    local_t: torch.Tensor,
    local_tp1: torch.Tensor,
    classifier: Projection,
    projection: Projection,
) -> torch.Tensor:
    """The ST-DIM objective: global-local plus local-local InfoNCE (equal weights)."""
    return global_local_infonce(global_t, local_tp1, classifier) + local_local_infonce(
        local_t, local_tp1, projection
    )


class STDIM(nn.Module):
    """ST-DIM pretraining head around an encoder (the module whose weights are kept)."""

    def __init__(self, encoder: ConvEncoder, feature_dim: int, conv_layer: int = -1):
        super().__init__()
        self.encoder = encoder
        self.conv_layer = conv_layer
        with torch.no_grad():  # dry run for the head sizes
            device = next(encoder.parameters()).device
            zeros = torch.zeros(1, *encoder.input_shape, device=device)
            local, global_ = local_and_global(encoder, zeros, conv_layer)
        if global_.shape[1] != feature_dim:
            raise ValueError(f"feature_dim {feature_dim} but the encoder gives {global_.shape[1]}")
        channels = local.shape[1]
        self.local_shape = tuple(local.shape[1:])  # (C, H, W) of the contrasted map
        self.global_head = nn.Linear(feature_dim, channels)  # AtariARI's classifier1
        self.local_head = nn.Linear(channels, channels)  # AtariARI's classifier2

    def online_parameters(self) -> Iterator[nn.Parameter]:
        """Everything an optimiser should update (no target network: all trainable ones)."""
        return (p for p in self.parameters() if p.requires_grad)

    def loss(self, obs: torch.Tensor, obs_next: torch.Tensor) -> torch.Tensor:
        """ST-DIM loss of frames o_t against their temporal partners o_{t+1}.

        Shape contract: obs, obs_next (B, C, H, W) uint8 or float, B >= 2 -> scalar.
        """
        if obs.shape != obs_next.shape:
            raise ValueError(f"obs {tuple(obs.shape)} and obs_next {tuple(obs_next.shape)} differ")
        b = obs.shape[0]
        # One encoder pass over both frames: half the kernel launches, same result (no BN).
        local, global_ = local_and_global(self.encoder, torch.cat([obs, obs_next]), self.conv_layer)
        return stdim_loss(global_[:b], local[:b], local[b:], self.global_head, self.local_head)
