"""The parameter-free modality inputs agree with the encoders that own the same transforms."""

from __future__ import annotations

import pytest
import torch

from models.audio import log_spectrum
from models.clip import RamEncoder
from models.modality_inputs import LogSpectrum, RamBits


def test_ram_bits_equal_ram_encoder_unpack() -> None:
    ram = torch.randint(0, 256, (4, 128), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(RamBits()(ram), RamEncoder(feature_dim=2, hidden=2).unpack(ram))
    assert RamBits().out_dim == 1152
    with pytest.raises(ValueError, match="integer"):
        RamBits()(ram.float())


def test_log_spectrum_layer() -> None:
    s = torch.randint(0, 256, (3, 512), dtype=torch.uint8)
    torch.testing.assert_close(LogSpectrum()(s), log_spectrum(s))
    assert LogSpectrum().out_dim == 257
