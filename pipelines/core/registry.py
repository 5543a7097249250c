"""Models in the MLflow Model Registry.

`arcadelab-encoder`: one version per trained encoder, aliases per method and view, and
`champion` on the best mean probe F1 in the policy's view. `arcadelab-policy`: one version
per RL run, aliases per algorithm and transfer mode (`ppo-scratch`, ...) and `current`.
Downstream stages load `models:/<name>@<alias>`; every version is tagged with the data or
run it came from, so lineage is one click away.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import mlflow
import torch
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from torch import nn

from models.actor_critic import ActorCritic
from models.checkpoint import load_encoder, save_encoder
from models.encoder import EncoderSpec, build_encoder
from models.policy_checkpoint import load_policy, save_policy
from pipelines.core.model_refs import ENCODER_MODEL, POLICY_MODEL, RANDOM, pinned_ref

_PYFUNC = str(Path(__file__).with_name("encoder_model.py"))
_POLICY_PYFUNC = str(Path(__file__).with_name("policy_model.py"))
log = logging.getLogger("arcadelab")


class RegistryError(LookupError):
    """A registered model or alias that does not exist."""


def _log_pyfunc(code: str, artifacts: dict[str, str], name: str, model: str,
                tags: dict[str, str], register: bool) -> str | None:
    info = mlflow.pyfunc.log_model(  # predict is typed: no type-hint warning to hide
        name=name, python_model=code, artifacts=artifacts,
        registered_model_name=model if register else None,
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "numpy"],
        tags=tags,
    )
    version = info.registered_model_version
    if register and version is not None:
        client = MlflowClient()
        for key, value in tags.items():
            client.set_model_version_tag(model, str(version), key, value)
        return str(version)
    return None


def log_encoder(encoder: nn.Module, spec: EncoderSpec, name: str, tags: dict[str, str],
                register: bool = True) -> str | None:
    """Log an encoder as an MLflow model in the active run; returns the registered version."""
    with tempfile.TemporaryDirectory() as tmp:
        save_encoder(encoder, spec, Path(tmp) / "encoder")
        return _log_pyfunc(_PYFUNC, {"encoder": str(Path(tmp) / "encoder")}, name,
                           ENCODER_MODEL, tags, register)


def log_policy(net: ActorCritic, spec: EncoderSpec, num_actions: int, tags: dict[str, str],
               register: bool = True, actions: str = "full",
               env_actions: Sequence[int] | None = None) -> str | None:
    """Log a policy network as an MLflow model (`policy`) in the active run. Its action set
    goes into `policy.json` (with the env action of each output) and the `actions` tag, which
    the stages that resolve the version read."""
    tags = {**tags, "actions": actions}
    with tempfile.TemporaryDirectory() as tmp:
        save_policy(net, spec, num_actions, Path(tmp) / "policy", actions, env_actions)
        return _log_pyfunc(_POLICY_PYFUNC, {"policy": str(Path(tmp) / "policy")}, "policy",
                           POLICY_MODEL, tags, register)


def set_alias(alias: str, version: str, model: str = ENCODER_MODEL) -> None:
    MlflowClient().set_registered_model_alias(model, alias, version)


def model_uri(ref: str, model: str = ENCODER_MODEL) -> str:
    """`models:/<model>/<n>` for a version number, `models:/<model>@<alias>` for an alias."""
    return f"models:/{model}/{ref}" if ref.isdigit() else f"models:/{model}@{ref}"


def resolve(alias: str, model: str = ENCODER_MODEL) -> tuple[str, dict[str, str]]:
    """Version and tags behind `<model>@alias` (or version `alias` if it is a number, or the
    version `pinned` for the alias); RegistryError if there is none."""
    client = MlflowClient()
    ref = pinned_ref(model, alias)
    try:
        mv = (client.get_model_version(model, ref) if ref.isdigit()
              else client.get_model_version_by_alias(model, ref))
    except MlflowException as exc:
        hint = "arcadelab run pretrain" if model == ENCODER_MODEL else "arcadelab rl"
        raise RegistryError(
            f"nothing registered as {model_uri(alias, model)} "
            f"({str(exc).splitlines()[0]}); run `{hint}` first") from None
    return str(mv.version), dict(mv.tags)


def load_registered_encoder(alias: str, expected: EncoderSpec | None = None
                            ) -> tuple[nn.Module, EncoderSpec, str]:
    """Download `models:/arcadelab-encoder@alias` (or version `alias` if it is a number) and
    rebuild the encoder (weights only)."""
    version, _ = resolve(alias)
    uri = model_uri(version)  # the version just resolved, even if the alias moves meanwhile
    local = Path(mlflow.artifacts.download_artifacts(uri))
    found = [p.parent for p in local.rglob("encoder.json")]
    if not found:
        raise RegistryError(f"{uri} holds no encoder checkpoint")
    encoder, spec = load_encoder(found[0], expected)
    return encoder, spec, version


def _encoder_source(alias: str, version: str | None, seed: int) -> str:
    """How a run names its encoder; equal strings mean the same encoder (loop keys use it)."""
    if version is None:
        return f"random init (seed {seed})"
    return f"{ENCODER_MODEL}@{alias} (v{version})"


def encoder_source(alias: str, seed: int) -> str:
    """What `encoder_or_random` will load, without loading it (a registry look-up only)."""
    if alias != RANDOM:
        try:
            return _encoder_source(alias, resolve(alias)[0], seed)
        except RegistryError:
            pass
    return _encoder_source(alias, None, seed)


def encoder_or_random(alias: str, fallback: EncoderSpec, seed: int, stage: str
                      ) -> tuple[nn.Module, EncoderSpec, str]:
    """`models:/arcadelab-encoder@<alias>` as (encoder, spec, source); a seeded random init of
    `fallback` for 'random' or when the alias is not registered (a warning naming `stage`),
    so a stage run alone on a fresh store still runs, and its source says which it used."""
    if alias != RANDOM:
        try:
            encoder, spec, version = load_registered_encoder(alias)
        except RegistryError as exc:
            log.warning("%s: %s; using a random-init encoder instead", stage, exc)
        else:
            return encoder, spec, _encoder_source(alias, version, seed)
    torch.manual_seed(seed)
    return build_encoder(fallback), fallback, _encoder_source(alias, None, seed)


def load_registered_policy(alias: str) -> tuple[ActorCritic, EncoderSpec, str]:
    """Download `models:/arcadelab-policy@alias` and rebuild the policy (weights only)."""
    version, _ = resolve(alias, POLICY_MODEL)
    uri = model_uri(version, POLICY_MODEL)  # the version just resolved
    local = Path(mlflow.artifacts.download_artifacts(uri))
    found = [p.parent for p in local.rglob("policy.json")]
    if not found:
        raise RegistryError(f"{uri} holds no policy checkpoint")
    net, spec = load_policy(found[0])
    return net, spec, version
