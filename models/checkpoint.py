"""Encoder weights on disk: `weights.pt` (a state dict) beside `encoder.json` (its spec).

Loading never executes code from the file (`torch.load(weights_only=True)`), and a checkpoint
whose shapes do not match the expected encoder is refused with a message saying how.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from models.encoder import EncoderSpec, build_encoder

WEIGHTS = "weights.pt"
SPEC = "encoder.json"


class EncoderCheckpointError(ValueError):
    """A missing, unreadable or mismatched encoder checkpoint."""


def save_encoder(encoder: nn.Module, spec: EncoderSpec, directory: Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in encoder.state_dict().items()}
    torch.save(state, directory / WEIGHTS)
    (directory / SPEC).write_text(json.dumps(asdict(spec), indent=2))
    return directory


def load_encoder(directory: Path, expected: EncoderSpec | None = None) -> tuple[nn.Module,
                                                                               EncoderSpec]:
    """Rebuild an encoder from `directory`; if `expected` is given its input shape and feature
    size must match the checkpoint's."""
    directory = Path(directory)
    try:
        spec = EncoderSpec(**json.loads((directory / SPEC).read_text()))
    except FileNotFoundError:
        raise EncoderCheckpointError(f"no encoder checkpoint at {directory}: {SPEC} missing") \
            from None
    except (TypeError, ValueError) as exc:
        raise EncoderCheckpointError(f"{directory / SPEC} is not a valid spec: {exc}") from None
    if expected is not None and (spec.input_shape, spec.feature_dim) != (
            expected.input_shape, expected.feature_dim):
        raise EncoderCheckpointError(
            f"encoder checkpoint {directory} takes input {spec.input_shape} and gives "
            f"{spec.feature_dim} features; expected input {expected.input_shape} and "
            f"{expected.feature_dim} features")
    encoder = build_encoder(spec)
    try:
        state = torch.load(directory / WEIGHTS, map_location="cpu", weights_only=True)
        encoder.load_state_dict(state)
    except FileNotFoundError:
        raise EncoderCheckpointError(f"encoder weights missing: {directory / WEIGHTS}") from None
    except pickle.UnpicklingError:
        raise EncoderCheckpointError(
            f"{directory / WEIGHTS} holds more than tensors; refusing to unpickle it") from None
    except RuntimeError as exc:  # size mismatch / missing keys / not a state dict
        first = str(exc).strip().splitlines()[:3]
        raise EncoderCheckpointError(
            f"encoder weights {directory / WEIGHTS} do not fit {spec}: {' '.join(first)}"
        ) from None
    return encoder, spec
