"""Policy weights on disk: `policy.pt` (the actor-critic state dict) beside `policy.json`
(encoder spec, action count, and the env actions the outputs stand for), loaded without
executing code (`weights_only=True`)."""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import torch

from models.actor_critic import ActorCritic
from models.checkpoint import EncoderCheckpointError
from models.encoder import EncoderSpec, build_encoder

WEIGHTS = "policy.pt"
META = "policy.json"


class PolicyCheckpointError(EncoderCheckpointError):
    """A missing, unreadable or mismatched policy checkpoint."""


class PolicyActions(NamedTuple):
    """What a policy's outputs mean: its action set (`full`, `up_down`) and, per output, the
    env action (index into the game's minimal action set) it stands for."""

    actions: str
    env_actions: tuple[int, ...]


def save_policy(net: ActorCritic, spec: EncoderSpec, num_actions: int, directory: Path,
                actions: str = "full", env_actions: Sequence[int] | None = None) -> Path:
    """`env_actions`: the env action of each output (None: output i is env action i)."""
    env_actions = list(range(num_actions) if env_actions is None else env_actions)
    if len(env_actions) != num_actions:
        raise ValueError(f"{num_actions} policy outputs but {len(env_actions)} env actions")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, directory / WEIGHTS)
    (directory / META).write_text(json.dumps(
        {"encoder": asdict(spec), "num_actions": num_actions, "actions": actions,
         "env_actions": env_actions}, indent=2))
    return directory


def load_policy_actions(directory: Path) -> PolicyActions:
    """The action set a saved policy plays (checkpoints from before it was recorded: full)."""
    path = Path(directory) / META
    try:
        meta = json.loads(path.read_text())
        n = int(meta["num_actions"])
        env_actions = tuple(int(a) for a in meta.get("env_actions", range(n)))
        return PolicyActions(str(meta.get("actions", "full")), env_actions)
    except FileNotFoundError:
        raise PolicyCheckpointError(f"no policy checkpoint at {directory}: {META} missing") \
            from None
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyCheckpointError(f"{path} is not valid: {exc}") from None


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
