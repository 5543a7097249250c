"""CLIP's symmetric contrastive loss and the retrieval metric used to judge it.

Radford et al. 2021, "Learning Transferable Visual Models From Natural Language Supervision":
embed two modalities of the same items, score all pairs by scaled cosine similarity, and ask
each modality to pick its partner among the batch, in both directions. Here the two modalities
are an Atari frame and the console RAM of the same instant.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_LOGIT_SCALE = math.log(100.0)
"""CLIP clamps the learned log-scale so the temperature never drops below 1/100."""


def _check_pair(a_emb: torch.Tensor, b_emb: torch.Tensor) -> None:
    if a_emb.dim() != 2 or a_emb.shape != b_emb.shape:
        raise ValueError(f"expected two (B, D) embeddings of one shape, got {tuple(a_emb.shape)}"
                         f" and {tuple(b_emb.shape)}")


def symmetric_info_nce(a_emb: torch.Tensor, b_emb: torch.Tensor,
                       logit_scale: torch.Tensor) -> torch.Tensor:
    """Mean of a->b and b->a cross entropy over exp(logit_scale)-scaled cosine similarities.

    Shape contract: a_emb (B, D), b_emb (B, D), logit_scale scalar -> scalar. Row i of a_emb
    matches row i of b_emb. logit_scale is clamped to log(100) as in CLIP, so gradients stop
    flowing into it once it reaches the cap. Swapping a and b gives the same value.
    """
    _check_pair(a_emb, b_emb)
    scale = logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
    logits = scale * F.normalize(a_emb, dim=1) @ F.normalize(b_emb, dim=1).T
    targets = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


@torch.no_grad()
def recall_at_k(a_emb: torch.Tensor, b_emb: torch.Tensor,
                ks: tuple[int, ...] = (1, 5)) -> dict[int, float]:
    """Fraction of rows i of a_emb whose true match b_emb[i] ranks in the top k by cosine.

    Shape contract: a_emb (B, D), b_emb (B, D) -> {k: recall in [0, 1]}. A match's rank is the
    number of candidates scoring strictly higher, so ties are resolved in the match's favour
    (identical embeddings give recall 1.0 even with duplicate rows).
    """
    _check_pair(a_emb, b_emb)
    sim = F.normalize(a_emb.float(), dim=1) @ F.normalize(b_emb.float(), dim=1).T
    rank = (sim > sim.diagonal()[:, None]).sum(dim=1)  # (B,) 0 = best
    return {k: (rank < k).float().mean().item() for k in ks}
