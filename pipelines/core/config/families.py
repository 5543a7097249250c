"""The course's other learning families, each a stage over the dataset: multimodal
(`multimodal`), multi-task (`multitask`), generative (`gan`) and few/zero-shot (`fewshot`), with
their preset sizes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from pipelines.core.config.base import _Section, _subset

MM_PARTS = ("fusion", "autoencoder", "alignment", "translation", "retrieval", "colearning")
FUSIONS = ("early", "late", "sum", "product", "tensor", "lowrank")
MTL_SCHEMES = ("single", "hard", "soft")


class MultimodalConfig(_Section):
    """Multimodal stage over screen, sound and RAM: fusion, bimodal autoencoder, alignment,
    translation, retrieval, co-learning (docs/multimodal.md)."""

    encoder: str = Field("champion", description="frozen frame encoder: registry alias, or "
                         "'random' (also used when the alias is not registered)")
    parts: tuple[str, ...] = Field(MM_PARTS, description=f"subset of {MM_PARTS}")
    horizon: int = Field(8, ge=1, description="target: a hit, bounce or point in the next k steps")
    fusions: tuple[str, ...] = Field(FUSIONS, description=f"subset of {FUSIONS}")
    hidden: int = Field(128, ge=2, description="width of encoders and heads")
    tensor_dim: int = Field(16, ge=1, description="per-modality size fed to tensor fusion")
    rank: int = Field(4, ge=1, description="rank of low-rank tensor fusion")
    epochs: int = Field(10, ge=1, description="epochs of the feature-level models")
    decoder_epochs: int = Field(5, ge=1, description="epochs of the pixel models (AE, RAM->frame)")
    batch_size: int = Field(256, ge=2, description="minibatch (>= 2: contrastive negatives)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    align_window: int = Field(2, ge=1, description="alignment candidates: frames t-w..t+w")
    foreground_weight: float = Field(20.0, ge=1, description="RAM->frame: weight of moving pixels")
    distill_temperature: float = Field(4.0, gt=0, description="co-learning softmax temperature")
    distill_alpha: float = Field(0.5, ge=0, le=1, description="co-learning weight of the teacher")

    @field_validator("parts")
    @classmethod
    def _known_parts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _subset(v, MM_PARTS, "parts")

    @field_validator("fusions")
    @classmethod
    def _known_fusions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _subset(v, FUSIONS, "fusions")


class MultitaskConfig(_Section):
    """Multi-task learning over the RAM variables: single-task, hard and soft sharing."""

    schemes: tuple[str, ...] = Field(MTL_SCHEMES, description=f"subset of {MTL_SCHEMES}")
    trunk: Literal["features", "cnn"] = Field(
        "features", description="the shared/per-task encoder: an MLP over the frozen frame "
        "encoder's features, or a NatureCNN trained end to end on 4x84x84 stacks")
    encoder: str = Field("champion", description="frozen frame encoder of the features trunk")
    epochs: int = Field(20, ge=1, description="passes over the train split")
    batch_size: int = Field(128, ge=1, description="minibatch")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    hidden: int = Field(256, ge=1, description="features trunk: hidden width")
    feature_dim: int = Field(128, ge=1, description="trunk output size (the heads' input)")
    soft_penalty: float = Field(1e-2, ge=0, description="soft sharing: weight of the L2 coupling")
    max_train_rows: int | None = Field(None, ge=1, description="cap the train split (None: all)")

    @field_validator("schemes")
    @classmethod
    def _known_schemes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _subset(v, MTL_SCHEMES, "schemes")


class GanConfig(_Section):
    """DCGAN on 84x84 frames; Frechet distance in the frozen encoder's feature space."""

    encoder: str = Field("champion", description="encoder of the Frechet distance (or 'random')")
    epochs: int = Field(5, ge=1, description="passes over the train frames")
    batch_size: int = Field(64, ge=2, description="minibatch (BatchNorm needs >= 2)")
    z_dim: int = Field(64, ge=1, description="latent size")
    width: int = Field(16, ge=1, description="base channel width of G and D")
    lr: float = Field(2e-4, gt=0, description="Adam learning rate (DCGAN: 2e-4)")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1 (DCGAN: 0.5)")
    fd_samples: int = Field(1000, ge=2, description="frames per side of the Frechet distance")
    max_train_rows: int | None = Field(None, ge=1, description="cap the train frames (None: all)")


class FewshotConfig(_Section):
    """Prototypical few-shot and CLIP-style zero-shot classification of game states."""

    encoder: str = Field("champion", description="frozen frame encoder (or 'random')")
    shots: tuple[int, ...] = Field((1, 5, 10, 20, 50), description="k examples per class")
    episodes: int = Field(100, ge=1, description="test episodes per k")
    queries: int = Field(20, ge=1, description="query examples per class per episode")
    meta_episodes: int = Field(500, ge=0, description="ProtoNet meta-training episodes (0: off)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    hidden: int = Field(128, ge=2, description="width of the ProtoNet and frame-RAM model")
    batch_size: int = Field(256, ge=2, description="frame-RAM model minibatch")
    zero_shot: bool = Field(True, description="also classify zero-shot against RAM prompts")
    clip_epochs: int = Field(20, ge=1, description="epochs of the frame-RAM model for zero-shot")
    prompts: int = Field(64, ge=1, description="RAM prompts per class")

    @field_validator("shots")
    @classmethod
    def _positive_shots(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or min(v) < 1:
            raise ValueError(f"shots must be a non-empty list of k >= 1 (got {v})")
        return tuple(sorted(set(v)))


# These sections' overrides per preset (presets.py gathers every section's); laptop: the defaults.
PRESET_SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "multimodal": {"epochs": 2, "decoder_epochs": 1, "hidden": 16, "tensor_dim": 4,
                       "batch_size": 64},
        "multitask": {"epochs": 2, "batch_size": 32, "hidden": 32, "feature_dim": 16},
        "gan": {"epochs": 1, "batch_size": 32, "width": 4, "z_dim": 16, "fd_samples": 64},
        "fewshot": {"shots": (1, 5), "episodes": 10, "queries": 5, "meta_episodes": 20,
                    "clip_epochs": 2, "prompts": 8},
    },
    "cluster": {
        "multimodal": {"epochs": 40, "decoder_epochs": 30},
        "multitask": {"trunk": "cnn", "epochs": 10, "feature_dim": 256},
        "gan": {"epochs": 25, "width": 32},
    },
}
