"""AtariARI's per-variable fully supervised probe: learns a visible variable, refuses bad
input."""

from __future__ import annotations

import numpy as np
import pytest

from models.encoder import EncoderSpec
from pipelines.pretrain.supervised_probe import fit_supervised_probe

SPEC = EncoderSpec(arch="small_cnn", in_channels=1, height=36, width=36, feature_dim=32)


def _split(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A bright vertical bar at one of four columns; the label is the column's RAM value."""
    cols = rng.integers(0, 4, n)
    obs = rng.integers(0, 30, (n, 1, 36, 36), dtype=np.uint8)
    for i, c in enumerate(cols):
        obs[i, 0, :, 4 + 8 * c: 8 + 8 * c] = 255
    return obs, (cols * 40 + 10).astype(np.int64)


def _data(seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    parts = {s: _split(n, rng) for s, n in (("train", 256), ("val", 64), ("test", 64))}
    return {s: p[0] for s, p in parts.items()}, {s: p[1] for s, p in parts.items()}


def test_learns_a_visible_variable_end_to_end() -> None:
    obs, y = _data()
    r = fit_supervised_probe(obs, y, label="bar_x", spec=SPEC, epochs=15, lr=1e-3,
                             batch_size=32, patience=5)
    # Majority class scores about 0.25 weighted F1 here; the trained probe reads the bar.
    assert r.f1 > 0.9 and r.val_f1 > 0.9
    assert r.train_examples == 256 and 1 <= r.epochs_run <= 15


def test_same_seed_same_result() -> None:
    obs, y = _data()
    a, b = (fit_supervised_probe(obs, y, label="bar_x", spec=SPEC, epochs=2, batch_size=64)
            for _ in range(2))
    assert a == b


def test_refuses_mismatched_shapes_and_labels() -> None:
    obs, y = _data()
    with pytest.raises(ValueError, match="encoder expects"):
        fit_supervised_probe({**obs, "val": obs["val"][:, :, :30]}, y, label="v", spec=SPEC)
    with pytest.raises(ValueError, match="same"):
        fit_supervised_probe(obs, {**y, "test": y["test"][:5]}, label="v", spec=SPEC)
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        fit_supervised_probe(obs, {**y, "train": y["train"] + 300}, label="v", spec=SPEC)
    with pytest.raises(ValueError, match="missing split"):
        fit_supervised_probe({"train": obs["train"]}, y, label="v", spec=SPEC)
