"""Zero-shot classification of game states, CLIP-style: no labelled example of any target
class is used. A frame-RAM model (`models/clip.py`) trained on unlabelled (frame, RAM) pairs
embeds both sides; each class is described on the RAM side by "prompts" built from its
definition (typical RAM states with the class's variables set inside the class's ranges, as
CLIP builds text prompts from a class name), and a frame is assigned to the class whose mean
prompt embedding is closest in cosine. The definition is the few-shot stage's: the quadrants of
the game's position pair (`pipelines.data.game_events.Quadrants`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from models.clip import FrameRamCLIP
from pipelines.data.game_events import QUADRANTS, Quadrants


def ram_prompts(base_ram: np.ndarray, ranges: Mapping[int, tuple[int, int]], count: int,
                rng: np.random.Generator) -> np.ndarray:
    """`count` RAM states: random rows of `base_ram` with each byte `i` in `ranges` replaced by
    a value drawn uniformly from its half-open range [lo, hi)."""
    if len(base_ram) == 0:
        raise ValueError("no base RAM states to build prompts from")
    out = base_ram[rng.integers(0, len(base_ram), count)].copy()
    for byte, (lo, hi) in ranges.items():
        if not 0 <= lo < hi <= 256:
            raise ValueError(f"RAM byte {byte}: range [{lo}, {hi}) is empty or not a byte")
        out[:, byte] = rng.integers(lo, hi, count)
    return out


def class_prompts(classes: Quadrants, idx: Mapping[str, int], base_ram: np.ndarray,
                  count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Prompts per class, in QUADRANTS order: for quadrant q, the object's x and y bytes (RAM
    indices from `idx`) drawn inside q's ranges."""
    out = []
    for q in range(len(QUADRANTS)):
        xs, ys = classes.ranges(q)
        out.append(ram_prompts(base_ram, {idx[classes.x_label]: xs, idx[classes.y_label]: ys},
                               count, rng))
    return out


@torch.no_grad()
def class_embeddings(model: FrameRamCLIP, prompts: Sequence[np.ndarray]) -> torch.Tensor:
    """One unit vector per class: the normalised mean of its normalised prompt embeddings."""
    model.eval()
    out = [F.normalize(model.embed_ram(torch.from_numpy(p)), dim=1).mean(0) for p in prompts]
    return F.normalize(torch.stack(out), dim=1)


@torch.no_grad()
def zero_shot_predict(model: FrameRamCLIP, frames: np.ndarray, classes: torch.Tensor
                      ) -> np.ndarray:
    """Frame inputs (whatever the frame tower reads) -> class index by cosine similarity."""
    model.eval()
    f = F.normalize(model.embed_frames(torch.from_numpy(frames)), dim=1)
    return (f @ classes.T).argmax(dim=1).numpy()
