"""random_shift: shape and dtype kept, identity at pad=0, and every output a crop of the
replicate-padded input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.augment import random_shift


def _frames(dtype: torch.dtype, b: int = 6, c: int = 2, h: int = 12, w: int = 10) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (b, c, h, w), generator=g)
    return x.to(torch.uint8) if dtype == torch.uint8 else x.to(dtype) / 255.0


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_shape_and_dtype_kept(dtype: torch.dtype) -> None:
    x = _frames(dtype)
    out = random_shift(x, pad=3, generator=torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    assert out.dtype == dtype


def test_pad_zero_is_identity() -> None:
    x = _frames(torch.uint8)
    assert torch.equal(random_shift(x, pad=0), x)


def test_pad_positive_changes_input_with_fixed_generator() -> None:
    x = _frames(torch.float32)
    out = random_shift(x, pad=4, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(out, x)


def test_same_seed_same_output_different_seed_differs() -> None:
    x = _frames(torch.float32, b=16)
    a = random_shift(x, 4, torch.Generator().manual_seed(3))
    b = random_shift(x, 4, torch.Generator().manual_seed(3))
    c = random_shift(x, 4, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_every_output_is_a_crop_of_the_padded_input(dtype: torch.dtype) -> None:
    pad = 3
    x = _frames(dtype, b=16)
    out = random_shift(x, pad, torch.Generator().manual_seed(5))
    padded = F.pad(x.double(), (pad, pad, pad, pad), mode="replicate")
    h, w = x.shape[-2:]
    offsets = set()
    for n in range(x.shape[0]):
        matches = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                   if torch.equal(padded[n, :, dy:dy + h, dx:dx + w], out[n].double())]
        assert matches, f"sample {n} is not a crop of its padded input"
        offsets.add(matches[0])
    assert len(offsets) > 1  # offsets are drawn per sample, not once per batch


def test_rejects_non_image_batches() -> None:
    with pytest.raises(ValueError, match="B, C, H, W"):
        random_shift(torch.zeros(3, 8, 8))
