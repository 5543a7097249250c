"""Tensor fusion and its low-rank version.

Zadeh et al. 2017, "Tensor Fusion Network for Multimodal Sentiment Analysis" (TFN): extend each
modality vector by a constant 1 and take their outer product, so the fused tensor holds every
unimodal, bimodal and trimodal product term at once. Liu et al. 2018, "Efficient Low-rank
Multimodal Fusion with Modality-Specific Factors" (LMF): a linear layer over that tensor, with
its weight tensor factorised into `rank` modality-specific factors, computed without ever
building the tensor: out = sum_r prod_m ([z_m; 1] @ W_m[r]) + b.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from models.fusion import check_vectors


def append_one(z: torch.Tensor) -> torch.Tensor:
    """(B, d) -> (B, d + 1) with a trailing 1 (keeps the lower-order terms in the product)."""
    return torch.cat([z, z.new_ones(z.shape[0], 1)], dim=1)


class TensorFusion(nn.Module):
    """[(B, d_m)] -> (B, prod_m (d_m + 1)): the flattened outer product of the [z_m; 1]."""

    def __init__(self, dims: Sequence[int]):
        super().__init__()
        self.dims = tuple(int(d) for d in dims)
        out = 1
        for d in self.dims:
            out *= d + 1
        self.out_dim = out

    def forward(self, zs: Sequence[torch.Tensor]) -> torch.Tensor:
        check_vectors(zs)
        if tuple(z.shape[1] for z in zs) != self.dims:
            raise ValueError(f"expected dims {self.dims}, got {[z.shape[1] for z in zs]}")
        out = append_one(zs[0])
        for z in zs[1:]:
            out = torch.einsum("bi,bj->bij", out, append_one(z)).flatten(1)
        return out


class LowRankFusion(nn.Module):
    """[(B, d_m)] -> (B, out_dim): LMF, a rank-`rank` linear map of the TFN tensor."""

    def __init__(self, dims: Sequence[int], out_dim: int, rank: int = 4):
        super().__init__()
        if rank < 1 or out_dim < 1:
            raise ValueError(f"rank and out_dim must be >= 1, got {rank}, {out_dim}")
        self.dims = tuple(int(d) for d in dims)
        self.rank = rank
        self.out_dim = out_dim
        self.factors = nn.ParameterList(
            nn.Parameter(torch.randn(rank, d + 1, out_dim) * (d + 1) ** -0.5) for d in self.dims)
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, zs: Sequence[torch.Tensor]) -> torch.Tensor:
        check_vectors(zs)
        if tuple(z.shape[1] for z in zs) != self.dims:
            raise ValueError(f"expected dims {self.dims}, got {[z.shape[1] for z in zs]}")
        prod = None
        for z, w in zip(zs, self.factors, strict=True):
            proj = torch.einsum("bi,rio->bro", append_one(z), w)  # (B, rank, out)
            prod = proj if prod is None else prod * proj
        return prod.sum(dim=1) + self.bias

    def full_weight(self) -> torch.Tensor:
        """The (prod_m (d_m + 1), out_dim) weight over TFN's flattened tensor that the factors
        stand for (for tests and inspection; never needed to compute the output)."""
        full = None
        for w in self.factors:
            # (rank, I, out) x (rank, J, out) -> (rank, I*J, out), in TFN's flattening order
            full = w if full is None else torch.einsum("rio,rjo->rijo", full, w).flatten(1, 2)
        return full.sum(dim=0)
