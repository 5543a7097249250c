"""Policy weights on disk: `policy.pt` (the actor-critic state dict) beside `policy.json`
(encoder spec and action count), loaded without executing code (`weights_only=True`)."""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict
from pathlib import Path

import torch

from models.actor_critic import ActorCritic
from models.checkpoint import EncoderCheckpointError
from models.encoder import EncoderSpec, build_encoder

WEIGHTS = "policy.pt"
META = "policy.json"


class PolicyCheckpointError(EncoderCheckpointError):
    """A missing, unreadable or mismatched policy checkpoint."""


def save_policy(net: ActorCritic, spec: EncoderSpec, num_actions: int, directory: Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, directory / WEIGHTS)
    (directory / META).write_text(json.dumps(
        {"encoder": asdict(spec), "num_actions": num_actions}, indent=2))
    return directory


def load_policy(directory: Path) -> tuple[ActorCritic, EncoderSpec]:
    directory = Path(directory)
    try:
        meta = json.loads((directory / META).read_text())
        spec = EncoderSpec(**meta["encoder"])
        num_actions = int(meta["num_actions"])
    except FileNotFoundError:
        raise PolicyCheckpointError(f"no policy checkpoint at {directory}: {META} missing") \
            from None
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyCheckpointError(f"{directory / META} is not valid: {exc}") from None
    net = ActorCritic(build_encoder(spec), spec.feature_dim, num_actions)
    try:
        net.load_state_dict(torch.load(directory / WEIGHTS, map_location="cpu",
                                       weights_only=True))
    except FileNotFoundError:
        raise PolicyCheckpointError(f"policy weights missing: {directory / WEIGHTS}") from None
    except pickle.UnpicklingError:
        raise PolicyCheckpointError(
            f"{directory / WEIGHTS} holds more than tensors; refusing to unpickle it") from None
    except RuntimeError as exc:
        raise PolicyCheckpointError(f"policy weights {directory / WEIGHTS} do not fit {spec}: "
                                    f"{str(exc).strip().splitlines()[0]}") from None
    return net.eval(), spec
