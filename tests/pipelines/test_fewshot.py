"""Few-shot helpers: the k-too-large error, episode accuracy on separable data, tertiles,
and zero-shot prompts that follow the class definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from models.clip import FrameRamCLIP, RamEncoder
from pipelines.fewshot import FewShotError, check_shots, episode_accuracy, tertiles
from pipelines.game_events import QUADRANTS
from pipelines.zeroshot import class_embeddings, ram_prompts, zero_shot_predict


def test_k_larger_than_the_examples_is_one_clear_error() -> None:
    y = np.array([0] * 5 + [1] * 3 + [2] * 9 + [3] * 4)
    check_shots(y, (1, 3), QUADRANTS)
    with pytest.raises(FewShotError, match=r"k=4 .*: top-right \(3\); lower fewshot.shots"):
        check_shots(y, (1, 4), QUADRANTS)


def test_episode_accuracy_on_separable_and_on_random_data() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(4) * 10
    y_tr, y_te = rng.integers(0, 4, 200), rng.integers(0, 4, 100)
    x_tr = centres[y_tr] + rng.normal(size=(200, 4))
    x_te = centres[y_te] + rng.normal(size=(100, 4))
    acc, std = episode_accuracy(lambda x: x.astype(np.float32), x_tr, y_tr, x_te, y_te, 1, 5,
                                10, 4, rng)
    assert acc == 1.0 and std == 0.0
    noise = rng.normal(size=(100, 4))
    acc, _ = episode_accuracy(lambda x: x.astype(np.float32), x_tr, y_tr, noise, y_te, 5, 20,
                              10, 4, rng)
    assert acc < 0.5


def test_tertiles() -> None:
    train = np.arange(9)
    assert tertiles(np.array([0, 2, 3, 5, 6, 8]), train).tolist() == [0, 0, 1, 1, 2, 2]


def test_ram_prompts_follow_the_ranges() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (5, 128)).astype(np.uint8)
    p = ram_prompts(base, {49: (50, 129), 54: (128, 208)}, 50, rng)
    assert p.shape == (50, 128) and p.dtype == np.uint8
    assert p[:, 49].min() >= 50 and p[:, 49].max() < 129
    assert p[:, 54].min() >= 128 and p[:, 54].max() < 208
    others = np.delete(np.arange(128), [49, 54])
    assert all(any((row[others] == b[others]).all() for b in base) for row in p)
    with pytest.raises(ValueError, match="empty"):
        ram_prompts(base, {49: (10, 10)}, 2, rng)


def test_zero_shot_picks_the_class_whose_prompts_match() -> None:
    # A frame tower that copies byte 49 / 255 and a RAM tower that reads it: matching by cosine
    # then depends on that byte only.
    torch.manual_seed(0)
    clip = FrameRamCLIP(nn.Identity(), 2, RamEncoder(feature_dim=2, hidden=4), 2, embed_dim=2)
    with torch.no_grad():
        clip.frame_proj.weight.copy_(torch.eye(2))
        clip.frame_proj.bias.zero_()
    clip.ram_proj = nn.Identity()
    clip.ram_encoder = _Byte49()
    rng = np.random.default_rng(0)
    base = np.zeros((3, 128), np.uint8)
    classes = class_embeddings(clip, [ram_prompts(base, {49: (0, 10)}, 4, rng),
                                      ram_prompts(base, {49: (240, 250)}, 4, rng)])
    frames = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)  # "low byte" and "high byte"
    assert zero_shot_predict(clip, frames, classes).tolist() == [0, 1]


class _Byte49(nn.Module):
    def forward(self, ram: torch.Tensor) -> torch.Tensor:
        v = ram[:, 49].float() / 255
        return torch.stack([1 - v, v], dim=1)
