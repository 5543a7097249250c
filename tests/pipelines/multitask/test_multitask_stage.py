"""The multi-task training body in-process (no Ray): both trunks build, every scheme trains
and reports per-task F1 and its compute; sharing costs less than a model per task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipelines.core.config import MultitaskConfig
from pipelines.multitask.stage import _table, build, train_scheme

MT = MultitaskConfig(trunk="features", hidden=16, feature_dim=8, soft_penalty=0.01, epochs=15,
                     batch_size=16, lr=1e-2)
SEED = 0


def _data() -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = {}
    for split, n in (("train", 96), ("val", 32), ("test", 32)):
        x = rng.normal(size=(n, 6)).astype(np.float32)
        labels = np.stack([(x[:, 0] > 0), (x[:, 1] > 0)], 1).astype(np.int64)  # learnable
        out[split] = {"x": x, "labels": labels}
    return out


def test_schemes_train_and_report_their_cost() -> None:
    data = _data()
    single = [train_scheme(data, "single", [t], MT, SEED) for t in (0, 1)]
    hard = train_scheme(data, "hard", [0, 1], MT, SEED)
    soft = train_scheme(data, "soft", [0, 1], MT, SEED)
    for r in (*single, hard, soft):
        assert all(0 <= f <= 1 for f in r["f1"]) and r["flops_per_example"] > 0
    assert hard["f1"][0] > 0.6 and hard["f1"][1] > 0.6  # sign of a feature: easy to learn
    table = _table([*single, hard, soft], ("a", "b"), ("single", "hard", "soft")).set_index("key")
    assert table.loc["single", "models"] == 2
    assert table.loc["hard", "params"] < table.loc["soft", "params"] == table.loc["single",
                                                                                  "params"]
    assert table.loc["hard", "train_mflops_per_example"] < table.loc["soft",
                                                                     "train_mflops_per_example"]


def test_cnn_trunk_builds_on_frame_stacks() -> None:
    model = build("soft", 2, MT.model_copy(update={"trunk": "cnn"}))
    x = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    assert model(x).shape == (2, 2, 256)
    with pytest.raises(ValueError, match="in_dim"):
        build("hard", 2, MT)
    with pytest.raises(ValueError, match="unknown"):
        build("mixed", 2, MT, in_dim=6)
