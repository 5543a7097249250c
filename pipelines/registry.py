"""Encoders in the MLflow Model Registry: `arcadelab-encoder`, one version per trained encoder,
aliases per method and view, and `champion` on the best mean probe F1 in the policy's view.

Downstream stages load `models:/arcadelab-encoder@<alias>`; every version is tagged with the
dataset it was trained on and the run that trained it, so lineage is one click away.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import mlflow
import torch
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from torch import nn

from models.checkpoint import load_encoder, save_encoder
from models.encoder import EncoderSpec

ENCODER_MODEL = "arcadelab-encoder"
_PYFUNC = str(Path(__file__).with_name("encoder_model.py"))


class RegistryError(LookupError):
    """A registered model or alias that does not exist."""


def log_encoder(encoder: nn.Module, spec: EncoderSpec, name: str, tags: dict[str, str],
                register: bool = True) -> str | None:
    """Log an encoder as an MLflow model in the active run; returns the registered version."""
    with tempfile.TemporaryDirectory() as tmp:
        save_encoder(encoder, spec, Path(tmp) / "encoder")
        with warnings.catch_warnings():  # "add type hints to predict": features are arrays
            warnings.simplefilter("ignore")
            info = mlflow.pyfunc.log_model(
                name=name, python_model=_PYFUNC, artifacts={"encoder": str(Path(tmp) / "encoder")},
                registered_model_name=ENCODER_MODEL if register else None,
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "numpy"],
                tags=tags,
            )
    version = info.registered_model_version
    if register and version is not None:
        client = MlflowClient()
        for key, value in tags.items():
            client.set_model_version_tag(ENCODER_MODEL, str(version), key, value)
        return str(version)
    return None


def set_alias(alias: str, version: str) -> None:
    MlflowClient().set_registered_model_alias(ENCODER_MODEL, alias, version)


def resolve(alias: str) -> tuple[str, dict[str, str]]:
    """Version and tags behind `arcadelab-encoder@alias`; RegistryError if there is none."""
    try:
        mv = MlflowClient().get_model_version_by_alias(ENCODER_MODEL, alias)
    except MlflowException as exc:
        raise RegistryError(
            f"no encoder registered as models:/{ENCODER_MODEL}@{alias} "
            f"({str(exc).splitlines()[0]}); run `arcadelab run pretrain` first") from None
    return str(mv.version), dict(mv.tags)


def load_registered_encoder(alias: str, expected: EncoderSpec | None = None
                            ) -> tuple[nn.Module, EncoderSpec, str]:
    """Download `models:/arcadelab-encoder@alias` and rebuild the encoder (weights only)."""
    version, _ = resolve(alias)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{ENCODER_MODEL}@{alias}"))
    found = [p.parent for p in local.rglob("encoder.json")]
    if not found:
        raise RegistryError(f"models:/{ENCODER_MODEL}@{alias} holds no encoder checkpoint")
    encoder, spec = load_encoder(found[0], expected)
    return encoder, spec, version
