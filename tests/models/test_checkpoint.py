"""Encoder checkpoints: round trip, and clear refusals for wrong shapes or missing files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from models.checkpoint import EncoderCheckpointError, load_encoder, save_encoder
from models.encoder import EncoderSpec, build_encoder


def test_round_trip(tmp_path: Path) -> None:
    spec = EncoderSpec(in_channels=1, height=210, width=160, feature_dim=32)
    enc = build_encoder(spec)
    save_encoder(enc, spec, tmp_path)
    loaded, loaded_spec = load_encoder(tmp_path, expected=spec)
    assert loaded_spec == spec
    x = torch.randint(0, 256, (2, 1, 210, 160), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), enc(x))


def test_expected_shape_mismatch(tmp_path: Path) -> None:
    spec = EncoderSpec(feature_dim=32)
    save_encoder(build_encoder(spec), spec, tmp_path)
    with pytest.raises(EncoderCheckpointError, match=r"takes input \(4, 84, 84\).*expected"):
        load_encoder(tmp_path, expected=EncoderSpec(in_channels=1, height=210, width=160,
                                                    feature_dim=32))


def test_weights_that_do_not_fit_the_spec(tmp_path: Path) -> None:
    spec = EncoderSpec(feature_dim=32)
    save_encoder(build_encoder(spec), spec, tmp_path)
    (tmp_path / "encoder.json").write_text(json.dumps({**spec.__dict__, "feature_dim": 64}))
    with pytest.raises(EncoderCheckpointError, match="do not fit"):
        load_encoder(tmp_path)


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(EncoderCheckpointError, match=r"encoder\.json missing"):
        load_encoder(tmp_path)


def test_code_is_never_unpickled(tmp_path: Path) -> None:
    spec = EncoderSpec(feature_dim=8)
    save_encoder(build_encoder(spec), spec, tmp_path)
    torch.save({"evil": object()}, tmp_path / "weights.pt")  # an arbitrary pickled object
    with pytest.raises(EncoderCheckpointError, match="refusing to unpickle"):
        load_encoder(tmp_path)
