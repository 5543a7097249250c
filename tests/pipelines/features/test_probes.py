"""Unit tests for pipelines/features/probes.py: weighted F1, linear probes, tables and charts."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.metrics import f1_score

from pipelines.features.probes import (
    ProbeResult,
    few_shot_chart,
    few_shot_curve,
    fit_linear_probe,
    probe_all,
    probe_bar_chart,
    probe_table_markdown,
    weighted_f1,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST = {"epochs": 30, "patience": 6, "batch_size": 64, "lr": 2e-2}


def blobs(
    n: int, k: int, d: int, rng: np.random.Generator, sep: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """n points of k well-separated Gaussian classes in d dims (centres fixed per k, d)."""
    centres = np.random.default_rng(1000 + 31 * k + d).normal(size=(k, d)) * sep
    y = rng.integers(0, k, size=n)
    return centres[y] + rng.normal(size=(n, d)), y


def split_blobs(
    sizes: tuple[int, int, int] = (300, 150, 150), k: int = 4, d: int = 8, seed: int = 0,
    sep: float = 4.0,
) -> list[np.ndarray]:
    """[train_x, train_y, val_x, val_y, test_x, test_y] from one blob distribution."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for n in sizes:
        out += blobs(n, k, d, rng, sep)
    return out


def two_label_dataset(
    sizes: tuple[int, int, int] = (300, 150, 150), seed: int = 0, sep: float = 4.0
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """Features = [blob code of label a | blob code of label b]; labels 'a' (4) and 'b' (3)."""
    rng = np.random.default_rng(seed)
    features: dict[str, np.ndarray] = {}
    labels: dict[str, dict[str, np.ndarray]] = {}
    for split, n in zip(("train", "val", "test"), sizes, strict=True):
        xa, ya = blobs(n, 4, 6, rng, sep)
        xb, yb = blobs(n, 3, 5, rng, sep)
        features[split] = np.concatenate([xa, xb], axis=1)
        labels[split] = {"a": ya, "b": yb}
    return features, labels


# ---------------------------------------------------------------- weighted_f1


@pytest.mark.parametrize("case", range(8))
def test_weighted_f1_matches_sklearn(case: int) -> None:
    rng = np.random.default_rng(case)
    n = int(rng.integers(1, 400))
    k_true, k_pred = int(rng.integers(1, 12)), int(rng.integers(1, 15))
    y_true = rng.integers(0, k_true, size=n) * 3 + 5  # sparse, non-contiguous labels
    y_pred = rng.integers(0, k_pred, size=n) * 3 + 2
    # Make some predictions right so the score is not trivially 0.
    keep = rng.random(n) < rng.random()
    y_pred[keep] = y_true[keep]
    expected = f1_score(y_true, y_pred, average="weighted", zero_division=0)
    assert weighted_f1(y_true, y_pred) == pytest.approx(expected, abs=1e-12)


def test_weighted_f1_oracles() -> None:
    y = np.array([0, 1, 1, 2, 2, 2])
    assert weighted_f1(y, y) == 1.0
    assert weighted_f1(y, (y + 1) % 3) == 0.0
    assert weighted_f1(y, np.full_like(y, 7)) == 0.0  # predicts only an absent class
    # Hand computed: class 0 F1=0 (support 1); class 1 tp=1, 2 predicted, F1=2/4 (support 2);
    # class 2 F1=1 (support 3).
    pred = np.array([1, 1, 0, 2, 2, 2])
    assert weighted_f1(y, pred) == pytest.approx((0 + 2 * 0.5 + 3 * 1.0) / 6)
    assert weighted_f1(np.array([], dtype=int), np.array([], dtype=int)) == 0.0
    with pytest.raises(ValueError):
        weighted_f1(y, y[:-1])


# ---------------------------------------------------------------- fit_linear_probe


def test_probe_on_separable_features_scores_high() -> None:
    data = split_blobs(k=5, d=10)
    r = fit_linear_probe(*data, label="blob", **FAST)
    assert isinstance(r, ProbeResult)
    assert r.label == "blob"
    assert r.f1 > 0.9 and r.accuracy > 0.9 and r.val_f1 > 0.9
    assert r.train_examples == 300
    assert 1 <= r.epochs_run <= FAST["epochs"]


def test_probe_on_noise_is_near_chance() -> None:
    rng = np.random.default_rng(3)
    k, d = 4, 10
    data = []
    for n in (300, 150, 300):
        data += [rng.normal(size=(n, d)), rng.integers(0, k, size=n)]
    r = fit_linear_probe(*data, label="noise", num_classes=k, **FAST)
    assert r.f1 < 0.4  # chance is ~0.25 for 4 balanced classes
    assert r.accuracy < 0.4


def test_default_256_classes_and_unscaled_features() -> None:
    """Default num_classes=256 and features far off zero (standardisation must cope)."""
    tx, ty, vx, vy, sx, sy = split_blobs(k=4, d=8, seed=5)
    ty, vy, sy = ty * 60 + 7, vy * 60 + 7, sy * 60 + 7  # labels spread over [0, 256)
    r = fit_linear_probe(tx * 1e3 + 5e4, ty, vx * 1e3 + 5e4, vy, sx * 1e3 + 5e4, sy,
                         label="big", **FAST)
    assert r.f1 > 0.9


def test_standardisation_uses_train_statistics() -> None:
    """Per-feature affine rescaling of all splits leaves the probe unchanged (features are
    standardised), and the statistics come from train only: shifting test alone hurts."""
    data = split_blobs(k=4, d=8, seed=6, sep=1.5)
    tx, ty, vx, vy, sx, sy = data
    scale = np.logspace(-3, 3, tx.shape[1])
    offset = np.linspace(-1e3, 1e3, tx.shape[1])
    kw = {**FAST, "num_classes": 4}
    base = fit_linear_probe(*data, label="x", **kw)
    moved = fit_linear_probe(tx * scale + offset, ty, vx * scale + offset, vy,
                             sx * scale + offset, sy, label="x", **kw)
    # Equal up to float32 rounding of the standardised features.
    assert moved.f1 == pytest.approx(base.f1, abs=0.02)
    assert moved.val_f1 == pytest.approx(base.val_f1, abs=0.02)
    shifted = fit_linear_probe(tx, ty, vx, vy, sx + 50.0, sy, label="x", **kw)
    assert shifted.f1 < base.f1 - 0.3


def test_early_stopping_keeps_best_val_weights() -> None:
    """With test == val, the test score must equal the best validation score exactly; on
    noisy labels, val F1 fluctuates, so the last epoch's weights would score differently."""
    rng = np.random.default_rng(11)
    k, d = 6, 20
    tx, vx = rng.normal(size=(60, d)), rng.normal(size=(200, d))
    ty, vy = rng.integers(0, k, 60), rng.integers(0, k, 200)
    vx[:, 0] += vy  # a weak signal so val F1 has a peak and then drifts as train overfits
    tx[:, 0] += ty
    for seed in range(2):
        r = fit_linear_probe(tx, ty, vx, vy, vx, vy, label="x", num_classes=k, epochs=30,
                             patience=30, lr=5e-2, batch_size=20, seed=seed)
        assert r.f1 == pytest.approx(r.val_f1, abs=1e-12)
        assert r.epochs_run == 30


def test_early_stopping_stops_within_patience() -> None:
    data = split_blobs(k=3, d=6, sep=6.0)  # val F1 hits 1.0 early and cannot improve
    r = fit_linear_probe(*data, label="x", num_classes=3, epochs=200, patience=3, lr=5e-2)
    assert r.val_f1 == 1.0
    assert r.epochs_run < 200


def test_probe_is_deterministic_for_a_seed() -> None:
    data = split_blobs(k=4, d=8, sep=1.0)  # overlapping classes: results depend on the seed
    kw = {**FAST, "num_classes": 4}
    torch.manual_seed(1)
    a = fit_linear_probe(*data, label="x", seed=7, **kw)
    torch.manual_seed(2)  # different global state must not matter ...
    np.random.seed(3)
    state = torch.get_rng_state()
    b = fit_linear_probe(*data, label="x", seed=7, **kw)
    assert a == b
    assert torch.equal(torch.get_rng_state(), state)  # ... nor be consumed
    others = {fit_linear_probe(*data, label="x", seed=s, **kw) for s in range(4)}
    assert len(others) > 1  # the seed matters


def test_tiny_train_set_works() -> None:
    tx, ty, vx, vy, sx, sy = split_blobs(sizes=(10, 100, 100), k=3, d=6, sep=6.0)
    r = fit_linear_probe(tx, ty, vx, vy, sx, sy, label="tiny", batch_size=64, epochs=50)
    assert r.train_examples == 10
    assert 0.0 <= r.f1 <= 1.0
    # A single example (constant features, zero std) must not crash either.
    r1 = fit_linear_probe(tx[:1], ty[:1], vx, vy, sx, sy, label="one", epochs=3)
    assert r1.train_examples == 1


def test_probe_rejects_bad_inputs() -> None:
    tx, ty, vx, vy, sx, sy = split_blobs(k=3, d=4)
    with pytest.raises(ValueError):
        fit_linear_probe(tx, ty, vx, vy, sx, sy, label="x", num_classes=2)  # y out of range
    with pytest.raises(ValueError):
        fit_linear_probe(tx, ty, vx[:, :3], vy, sx, sy, label="x")  # dims differ
    with pytest.raises(ValueError):
        fit_linear_probe(tx, ty[:-1], vx, vy, sx, sy, label="x")  # lengths differ


# ---------------------------------------------------------------- probe_all / few_shot


def test_probe_all_mean_row_is_the_mean() -> None:
    features, labels = two_label_dataset()
    df = probe_all(features, labels, label_names=["a", "b"], **FAST)
    assert list(df.columns) == ["label", "f1", "accuracy", "val_f1", "train_examples"]
    assert df["label"].tolist() == ["a", "b", "mean"]
    per, mean = df.iloc[:2], df.iloc[2]
    for col in ("f1", "accuracy", "val_f1"):
        assert mean[col] == pytest.approx(per[col].mean())
    assert (df["train_examples"] == 300).all()
    assert (per["f1"] > 0.9).all()
    with pytest.raises(ValueError):
        probe_all(features, labels, label_names=["a", "missing"], **FAST)


def test_few_shot_sizes_clipped_and_deduplicated() -> None:
    features, labels = two_label_dataset(sizes=(40, 60, 60))
    df = few_shot_curve(features, labels, label_names=["a", "b"],
                        sizes=[10, 40, None, 500, 10], epochs=5)
    assert list(df.columns) == ["size", "label", "f1"]
    assert sorted(df["size"].unique().tolist()) == [10, 40]
    assert pd.api.types.is_integer_dtype(df["size"])
    for _, group in df.groupby("size"):
        assert group["label"].tolist() == ["a", "b", "mean"]
        assert group["f1"].iloc[2] == pytest.approx(group["f1"].iloc[:2].mean())


def test_few_shot_f1_grows_with_size() -> None:
    features, labels = two_label_dataset(sizes=(400, 150, 200), seed=4, sep=1.2)
    df = few_shot_curve(features, labels, label_names=["a", "b"], sizes=[10, None],
                        seed=1, **FAST)
    mean = df[df["label"] == "mean"].set_index("size")["f1"]
    assert mean.index.tolist() == [10, 400]
    assert mean[400] > mean[10] + 0.2
    again = few_shot_curve(features, labels, label_names=["a", "b"], sizes=[10], seed=1,
                           **FAST)
    assert again["f1"].tolist() == df[df["size"] == 10]["f1"].tolist()


# ---------------------------------------------------------------- tables and charts


def test_markdown_table_shape() -> None:
    df = pd.DataFrame({"label": ["a", "b|c", "mean"], "f1": [0.5, 0.25, 0.375],
                       "train_examples": [10, 10, 10]})
    md = probe_table_markdown(df)
    lines = md.strip().splitlines()
    assert len(lines) == 2 + len(df)
    assert lines[0] == "| label | f1 | train_examples |"
    assert set(lines[1].replace("|", "").replace(":", "")) == {"-"}
    assert lines[1].count("|") == 4
    assert lines[2] == "| a | 0.500 | 10 |"
    assert "b\\|c" in lines[3]
    assert all(line.startswith("|") and line.endswith("|") for line in lines)


def assert_png(path: Path) -> None:
    """The file starts with the PNG signature and Pillow opens it at a plausible size."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as img:
        assert img.format == "PNG"
        w, h = img.size
        assert 300 <= w <= 4000 and 200 <= h <= 3000


def test_probe_bar_chart_writes_png(tmp_path: Path) -> None:
    encoders = ["random", "autoencoder", "atc", "clip", "supervised"]
    rows = [{"encoder": e, "label": lab, "f1": (i + 1) / 6 * (j + 1) / 4}
            for i, e in enumerate(encoders)
            for j, lab in enumerate(["mean", "ball_x", "ball_y", "player_y"])]
    out = probe_bar_chart(pd.DataFrame(rows), tmp_path / "bars.png", "probe F1")
    assert out == tmp_path / "bars.png"
    assert_png(out)
    with pytest.raises(ValueError):
        probe_bar_chart(pd.DataFrame({"encoder": [], "label": []}), tmp_path / "x.png", "t")


def test_few_shot_chart_writes_png(tmp_path: Path) -> None:
    rows = [{"encoder": e, "size": s, "label": "mean", "f1": min(1.0, b + 0.1 * np.log10(s))}
            for e, b in (("random", 0.1), ("atc", 0.4), ("clip", 0.5))
            for s in (10, 100, 1000, 5000)]
    out = few_shot_chart(pd.DataFrame(rows), tmp_path / "curve.png", "few-shot")
    assert_png(out)


def test_probes_module_imports_no_orchestration() -> None:
    src = Path(__file__).resolve().parents[3] / "pipelines" / "features" / "probes.py"
    roots = set()
    for node in ast.walk(ast.parse(src.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert not roots & {"ray", "mlflow", "prefect"}
