"""Self-supervised encoder pretraining (`pretrain`) and the linear probes that score the
encoders (`probe`), with their preset sizes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from pipelines.core.config.base import _Section

SSL_METHODS = ("autoencoder", "atc", "clip", "stdim")
ENCODER_VIEWS = ("stack84", "full")


class PretrainConfig(_Section):
    """Self-supervised encoder pretraining on Ray Train (DDP), fed by Ray Data."""

    methods: tuple[str, ...] = Field(SSL_METHODS, description=f"subset of {SSL_METHODS}")
    supervised_baseline: bool = Field(True, description="also train the supervised upper bound")
    views: tuple[str, ...] = Field(
        ENCODER_VIEWS, description="stack84: the policy's 4x84x84; full: AtariARI's 210x160"
    )
    epochs: int = Field(
        40, ge=1, description="most passes over the train split (early stopping: patience)")
    batch_size: int = Field(128, ge=2, description="per-worker batch (>= 2: in-batch negatives)")
    lr: float = Field(3e-4, gt=0, description="Adam learning rate")
    feature_dim: int = Field(256, ge=1, description="encoder output size")
    arch: Literal["nature_cnn", "small_cnn"] = Field(
        "nature_cnn", description="encoder architecture (AtariARI: nature_cnn; the laptop RL "
        "policy: small_cnn, so a transfer experiment pretrains that)")
    num_workers: int = Field(1, ge=1, description="Ray Train workers (DDP)")
    use_gpu: bool = Field(False, description="one GPU per worker")
    atc_k: int = Field(
        3, ge=1, description="ATC and ST-DIM: the positive is t+k in the same episode")
    patience: int = Field(
        3, ge=1, description="epochs without a lower validation loss before training stops "
        "(the encoder kept is the one with the lowest validation loss)")
    atc_momentum: float = Field(0.99, ge=0, lt=1, description="ATC target-encoder EMA")
    atc_shift: int = Field(
        0, ge=0, description="ATC: random-shift padding in pixels (the paper: 4; on Pong a "
        "shift moves the features more than the ball and paddles do, and the loss stayed at "
        "chance: docs/pretraining.md)")
    max_failures: int = Field(2, ge=0, description="worker failures survived (from checkpoint)")
    register_models: bool = Field(True, description="register encoders as arcadelab-encoder")

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not set(v) <= set(SSL_METHODS):
            raise ValueError(f"methods must be a subset of {SSL_METHODS} (got {v})")
        return v

    @field_validator("views")
    @classmethod
    def _known_views(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or not set(v) <= set(ENCODER_VIEWS):
            raise ValueError(f"views must be a non-empty subset of {ENCODER_VIEWS} (got {v})")
        return v


class ProbeConfig(_Section):
    """AtariARI-style linear probes (one 256-way linear classifier per RAM variable)."""

    epochs: int = Field(100, ge=1, description="max epochs per probe (early stopping on val)")
    lr: float = Field(3e-3, gt=0, description="Adam learning rate")
    batch_size: int = Field(256, ge=1, description="probe minibatch")
    patience: int = Field(10, ge=1, description="epochs without val F1 gain before stopping")
    few_shot_sizes: tuple[int | None, ...] = Field(
        (10, 50, 100, 500, None), description="labelled examples per few-shot point (null: all)"
    )


# These sections' overrides per preset (presets.py gathers every section's); laptop: the defaults.
PRESET_SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "pretrain": {"epochs": 1, "batch_size": 32, "feature_dim": 64},
        "probe": {"epochs": 5, "patience": 2, "few_shot_sizes": (10, 50, None)},
    },
    "cluster": {
        "pretrain": {"epochs": 100, "batch_size": 256, "num_workers": 4, "use_gpu": True},
    },
}
