"""Fusion of modality vectors for supervised tasks (MultiBench's building blocks).

Baltrusaitis et al. 2019, "Multimodal Machine Learning: A Survey and Taxonomy", and Liang et
al. 2021, "MultiBench": *early* fusion concatenates the (preprocessed) inputs and learns one
network over them; *late* fusion trains a classifier per modality and combines their
decisions; in between, modality encoders meet in a fusion operator: concatenation, an
element-wise sum or product, or a tensor product (`models/tensor_fusion.py`).

A fusion operator maps a list of modality vectors [(B, d_1), ..., (B, d_M)] to (B, out_dim).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn


def check_vectors(zs: Sequence[torch.Tensor]) -> None:
    if not zs:
        raise ValueError("fusion needs at least one modality vector")
    if any(z.dim() != 2 or z.shape[0] != zs[0].shape[0] for z in zs):
        raise ValueError(f"modality vectors must be (B, d) with one B, got "
                         f"{[tuple(z.shape) for z in zs]}")


class ConcatFusion(nn.Module):
    """[z_1; ...; z_M]: the fusion of early fusion (over inputs) and of feature-level fusion."""

    def __init__(self, dims: Sequence[int]):
        super().__init__()
        self.out_dim = int(sum(dims))

    def forward(self, zs: Sequence[torch.Tensor]) -> torch.Tensor:
        check_vectors(zs)
        return torch.cat(list(zs), dim=1)


class ElementwiseFusion(nn.Module):
    """z_1 + ... + z_M or z_1 * ... * z_M (Hadamard); needs equal dimensions. The product lets
    one modality gate another (a multiplicative interaction); the sum is additive only."""

    def __init__(self, dims: Sequence[int], mode: str = "sum"):
        super().__init__()
        if mode not in ("sum", "product"):
            raise ValueError(f"mode must be 'sum' or 'product', got {mode!r}")
        if len(set(dims)) != 1:
            raise ValueError(f"element-wise fusion needs equal dimensions, got {list(dims)}")
        self.mode = mode
        self.out_dim = int(dims[0])

    def forward(self, zs: Sequence[torch.Tensor]) -> torch.Tensor:
        check_vectors(zs)
        out = zs[0]
        for z in zs[1:]:
            out = out + z if self.mode == "sum" else out * z
        return out


class FusionNet(nn.Module):
    """Modality encoders -> fusion operator -> head. Inputs are a mapping modality -> tensor;
    the encoders' order fixes the order the fusion sees."""

    def __init__(self, encoders: Mapping[str, nn.Module], fusion: nn.Module, head: nn.Module):
        super().__init__()
        self.modalities = tuple(encoders)
        self.encoders = nn.ModuleDict(dict(encoders))
        self.fusion = fusion
        self.head = head

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        missing = [m for m in self.modalities if m not in inputs]
        if missing:
            raise ValueError(f"inputs lack modalities {missing}")
        return self.head(self.fusion([self.encoders[m](inputs[m]) for m in self.modalities]))


class LateFusion(nn.Module):
    """One complete classifier per modality; the fused prediction averages their logits
    (decision-level fusion: no interaction between modalities is learned)."""

    def __init__(self, branches: Mapping[str, nn.Module]):
        super().__init__()
        if not branches:
            raise ValueError("late fusion needs at least one branch")
        self.branches = nn.ModuleDict(dict(branches))

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.stack([b(inputs) for b in self.branches.values()]).mean(dim=0)


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int = 2) -> nn.Sequential:
    """in -> (Linear, ReLU) x (layers - 1) -> Linear out."""
    mods: list[nn.Module] = []
    d = in_dim
    for _ in range(layers - 1):
        mods += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    mods.append(nn.Linear(d, out_dim))
    return nn.Sequential(*mods)
