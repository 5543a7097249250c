"""Unit tests for pipelines/core/charts.py: frame and reconstruction grids, charts, logging."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pipelines.core import charts

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as img:
        assert img.width > 100 and img.height > 100


def test_frame_grid_tiles_frames_with_captions() -> None:
    frames = np.zeros((5, 10, 8), np.uint8)
    sheet = charts.frame_grid(frames, [["a", "b"]] * 5, [{"ball": (3, 4)}, {"off": (99, 0)}],
                              cols=4, scale=2)
    cap_h = 12 * 2 + 4
    assert sheet.size == (4 * 8 * 2, 2 * (10 * 2 + cap_h))
    assert sheet.getpixel((3 * 2 + 2, 4 * 2 + 4)) == (255, 40, 40)  # the crosshair's centre


def test_recon_grid_puts_original_beside_reconstruction() -> None:
    orig = np.full((3, 2, 6, 5), 200, np.uint8)
    recon = np.zeros((3, 2, 6, 5), np.float32)
    grid = charts.recon_grid(orig, recon, scale=1)
    assert grid.dtype == np.uint8 and grid.shape == (3 * 6 + 2 * 4, 5 + 4 + 5)
    assert (grid[:6, :5] == 200).all() and (grid[:6, -5:] == 0).all()


def test_charts_write_pngs_on_the_agg_backend(tmp_path: Path) -> None:
    out = charts.line_chart({"a": ([0, 1, 2], [1.0, 2.0, 1.5]), "b": ([0, 2], [0.5, 1.0])},
                            tmp_path / "line.png", "t", "x", "y")
    assert out == tmp_path / "line.png"
    assert_png(out)
    assert_png(charts.lines({"a": ([1, 10, 100], [0.2, 0.5, 0.7], [0.1, 0.1, 0.05]),
                             "b": ([1, 10], [0.3, 0.4], None)},
                            tmp_path / "lines.png", "t", "k", "acc", logx=True,
                            hline=(0.25, "chance")))
    grid = pd.DataFrame({"x": [0.5, np.nan], "y": [0.7, 0.9]}, index=["r1", "r2"])
    assert_png(charts.grouped_bars(grid, tmp_path / "bars.png", "t", "F1"))
    assert charts._pyplot().get_backend().lower() == "agg"
    assert charts._pyplot() is charts._pyplot()


def test_log_png_and_log_table_log_under_the_artifact_dir(monkeypatch, tmp_path: Path
                                                          ) -> None:
    logged: list[tuple[str, str, list[str]]] = []

    def log_artifact(path: str, artifact_path: str) -> None:
        logged.append(("file", artifact_path, [Path(path).name]))

    def log_artifacts(local_dir: str, artifact_path: str) -> None:
        logged.append(("dir", artifact_path, sorted(p.name for p in Path(local_dir).iterdir())))
        assert "| a |" in (Path(local_dir) / "t.md").read_text()

    monkeypatch.setattr(charts.mlflow, "log_artifact", log_artifact)
    monkeypatch.setattr(charts.mlflow, "log_artifacts", log_artifacts)
    charts.log_png(lambda p: charts.line_chart({"a": ([0, 1], [0, 1])}, p, "t", "x", "y"),
                   "stage", "curve")
    charts.log_table(pd.DataFrame({"a": [1, 2]}), "stage", "t")
    assert logged == [("file", "stage", ["curve.png"]), ("dir", "stage", ["t.csv", "t.md"])]
