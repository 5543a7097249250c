"""Random shift augmentation for pixel observations.

DrQ (Kostrikov, Yarats, Fergus 2021, "Image Augmentation Is All You Need") and ATC (Stooke et
al. 2021) pad each frame by a few pixels, replicating the border, and crop back to the original
size at a random offset. Small shifts leave Atari semantics intact while forcing encoders not
to memorise exact pixel positions.
"""

from __future__ import annotations

import torch


def random_shift(x: torch.Tensor, pad: int = 4,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Replicate-pad (B, C, H, W) by `pad` and crop back to (H, W) at a random offset per sample.

    Implemented as a clamped gather (no padded copy is built), so it keeps any dtype, uint8
    included, and runs as one vectorised indexing op. Offsets are drawn in [0, 2 * pad] for
    rows and columns independently; `pad=0` returns the input unchanged.
    """
    if x.dim() != 4:
        raise ValueError(f"random_shift expects (B, C, H, W), got {tuple(x.shape)}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    if pad == 0:
        return x
    b, c, h, w = x.shape
    draw_device = generator.device if generator is not None else x.device
    offsets = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator, device=draw_device)
    offsets = offsets.to(x.device)
    # Output pixel (i, j) of sample n reads padded pixel (i + dy, j + dx), i.e. source pixel
    # (i + dy - pad, j + dx - pad) clamped to the image: exactly what replicate padding gives.
    rows = (torch.arange(h, device=x.device) + offsets[:, :1] - pad).clamp_(0, h - 1)  # (B, H)
    cols = (torch.arange(w, device=x.device) + offsets[:, 1:] - pad).clamp_(0, w - 1)  # (B, W)
    n_idx = torch.arange(b, device=x.device)[:, None, None, None]
    c_idx = torch.arange(c, device=x.device)[None, :, None, None]
    return x[n_idx, c_idx, rows[:, None, :, None], cols[:, None, None, :]]
