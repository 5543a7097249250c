"""Every fusion variant builds and runs on a batch of the three modalities; the grid table."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from pipelines.core.config import FUSIONS, MultimodalConfig
from pipelines.multimodal.fusion import UNIMODAL, build_model, fusion_grid, subset_name, subsets

MC = MultimodalConfig(hidden=8, tensor_dim=3, rank=2)


def test_subsets() -> None:
    names = [subset_name(s) for s in subsets()]
    assert names == ["V", "A", "R", "V+A", "V+R", "A+R", "V+A+R"]


@pytest.mark.parametrize("method", FUSIONS)
def test_every_variant_runs(method: str) -> None:
    torch.manual_seed(0)
    batch = {"frame": torch.randn(5, 6), "audio": torch.randint(0, 256, (5, 512),
                                                                 dtype=torch.uint8),
             "ram": torch.randint(0, 256, (5, 128), dtype=torch.uint8)}
    for subset in subsets()[3:]:
        out = build_model(subset, method, 6, MC)(batch)
        assert out.shape == (5, 2) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="unknown fusion"):
        build_model(("frame", "ram"), "max", 6, MC)
    assert build_model(("audio",), UNIMODAL, 6, MC)(batch).shape == (5, 2)


def test_fusion_grid_orders_rows_and_columns() -> None:
    table = pd.DataFrame([
        {"subset": "V+A", "method": "late", "macro_f1": 0.5},
        {"subset": "V", "method": UNIMODAL, "macro_f1": 0.3},
        {"subset": "V+A", "method": "early", "macro_f1": 0.4}])
    grid = fusion_grid(table)
    assert list(grid.index) == ["V", "V+A"] and list(grid.columns) == [UNIMODAL, "early", "late"]
    assert grid.loc["V+A", "late"] == 0.5 and pd.isna(grid.loc["V", "late"])
