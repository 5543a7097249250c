"""AtariARI-style linear probes (Anand et al. 2019) on pre-extracted, frozen features.

Each RAM label (e.g. Pong's ``ball_x``) is a 256-way classification problem; a single linear
layer is trained on the frozen encoder features of the train split, early-stopped on the
validation split's weighted F1, and scored on the test split. Everything here works on
numpy arrays, so it needs neither Ray nor MLflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from pipelines.core.torch_fit import Batch, fit
from pipelines.features.standardize import Standardizer

SPLITS: tuple[str, str, str] = ("train", "val", "test")
MEAN_LABEL = "mean"


def weighted_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Support-weighted F1 over the classes present in ``y_true``.

    Equals ``sklearn.metrics.f1_score(y_true, y_pred, average="weighted")``: classes that
    appear only in ``y_pred`` have zero support and so zero weight. Empty input gives 0.0.
    """
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} items but y_pred has {y_pred.size}")
    if y_true.size == 0:
        return 0.0
    classes, true_idx = np.unique(y_true, return_inverse=True)
    k = classes.size
    support = np.bincount(true_idx, minlength=k)
    correct = y_pred == y_true
    tp = np.bincount(true_idx[correct], minlength=k)
    # Predicted count per (true-present) class; predictions of absent classes are dropped.
    pos = np.clip(np.searchsorted(classes, y_pred), 0, k - 1)
    hit = classes[pos] == y_pred
    predicted = np.bincount(pos[hit], minlength=k)
    f1 = 2.0 * tp / (support + predicted)  # support > 0, so the denominator is > 0
    return float(np.sum(support * f1) / np.sum(support))


@dataclass(frozen=True)
class ProbeResult:
    """One probe's scores: test F1/accuracy, best validation F1, and how it was trained."""

    label: str
    f1: float
    accuracy: float
    val_f1: float
    train_examples: int
    epochs_run: int


def _check_split(x: np.ndarray, y: np.ndarray, name: str, num_classes: int) -> None:
    """Raise ValueError unless x is (N, D) with N >= 1 and y holds N ints in [0, C)."""
    if x.ndim != 2:
        raise ValueError(f"{name}_x must be 2-D (N, D), got shape {x.shape}")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"{name}_y must be 1-D with {x.shape[0]} items, got shape {y.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} split is empty")
    if not np.issubdtype(y.dtype, np.integer) and not (
        np.all(np.isfinite(y)) and np.all(y == np.round(y))
    ):
        raise ValueError(f"{name}_y must hold integers")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"{name}_y values must lie in [0, {num_classes}), got [{y.min()}, {y.max()}]"
        )


def _predict(layer: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Argmax class for each row of x (no gradients)."""
    with torch.no_grad():
        return layer(x).argmax(dim=1).numpy()


def fit_linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    label: str,
    num_classes: int = 256,
    epochs: int = 100,
    lr: float = 3e-3,
    batch_size: int = 64,
    patience: int = 10,
    weight_decay: float = 0.0,
    standardize: bool = True,
    seed: int = 0,
) -> ProbeResult:
    """Train one linear layer (Adam, cross-entropy) on train, early-stop on val F1, test.

    With ``standardize`` (the default) features are scaled by the train split's mean and std;
    without it they enter raw, as in AtariARI's probes (docs/pretraining.md measures both).
    The weights with the best validation F1 are kept; training stops after ``patience``
    epochs without improvement.
    Randomness (initialisation, shuffling) comes from a local ``torch.Generator(seed)``.
    """
    if epochs < 1 or batch_size < 1 or patience < 1 or num_classes < 1:
        raise ValueError("epochs, batch_size, patience and num_classes must all be >= 1")
    arrays = [np.asarray(a) for a in (train_x, train_y, val_x, val_y, test_x, test_y)]
    for (x, y), name in zip(zip(arrays[::2], arrays[1::2], strict=True), SPLITS, strict=True):
        _check_split(x, y, name, num_classes)
    dims = {a.shape[1] for a in arrays[::2]}
    if len(dims) != 1:
        raise ValueError(f"feature dimensions differ across splits: {sorted(dims)}")

    (dim,) = dims
    scale = (Standardizer.fit(arrays[0], dtype=np.float64) if standardize
             else Standardizer(mean=np.zeros(dim), std=np.ones(dim)))  # raw: only cast to float32
    xtr, xva, xte = (scale.transform(a) for a in arrays[::2])
    ytr = arrays[1].astype(np.int64)
    yva, yte = arrays[3].astype(np.int64), arrays[5].astype(np.int64)
    n, d = xtr.shape
    xva_t, xte_t = torch.from_numpy(xva), torch.from_numpy(xte)

    gen = torch.Generator().manual_seed(seed)
    layer = torch.nn.utils.skip_init(nn.Linear, d, num_classes)  # leaves global RNG alone
    bound = 1.0 / float(np.sqrt(d))
    with torch.no_grad():  # same law as nn.Linear's default init, from the local generator
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)

    def loss(model: nn.Module, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(model(batch["x"]), batch["y"])

    def val_f1(model: nn.Module) -> float:
        return weighted_f1(yva, _predict(model, xva_t))

    # The shared loop, on the probe's protocol: Adam, `epochs` epochs shuffled by the same
    # generator that drew the weights, the best validation F1 kept, `patience` epochs without
    # a better one end it (the first epoch always counts: F1 >= 0 beats the loop's -inf).
    fitted = fit(layer, loss, {"x": xtr, "y": ytr}, epochs=epochs, batch_size=batch_size, lr=lr,
                 seed=gen, score=val_f1, weight_decay=weight_decay, patience=patience)
    test_pred = _predict(layer, xte_t)
    return ProbeResult(
        label=label,
        f1=weighted_f1(yte, test_pred),
        accuracy=float(np.mean(test_pred == yte)),
        val_f1=fitted.best_score,
        train_examples=int(n),
        epochs_run=len(fitted.history),
    )


def _check_inputs(
    features: Mapping[str, np.ndarray],
    labels: Mapping[str, Mapping[str, np.ndarray]],
    label_names: Sequence[str],
) -> None:
    """Raise ValueError if a split or a label is missing."""
    if not label_names:
        raise ValueError("label_names is empty")
    for split in SPLITS:
        if split not in features:
            raise ValueError(f"features lack split {split!r}")
        if split not in labels:
            raise ValueError(f"labels lack split {split!r}")
        missing = [name for name in label_names if name not in labels[split]]
        if missing:
            raise ValueError(f"labels[{split!r}] lack {missing}")


def _probe_labels(
    features: Mapping[str, np.ndarray],
    labels: Mapping[str, Mapping[str, np.ndarray]],
    label_names: Sequence[str],
    train_idx: np.ndarray | None,
    probe_kwargs: Mapping[str, Any],
) -> list[ProbeResult]:
    """Fit one probe per label, on the train rows ``train_idx`` (all rows if None)."""
    train_x = np.asarray(features["train"])
    if train_idx is not None:
        train_x = train_x[train_idx]
    results = []
    for name in label_names:
        train_y = np.asarray(labels["train"][name])
        if train_idx is not None:
            train_y = train_y[train_idx]
        results.append(
            fit_linear_probe(
                train_x, train_y,
                features["val"], labels["val"][name],
                features["test"], labels["test"][name],
                label=name, **probe_kwargs,
            )
        )
    return results


def probe_all(
    features: dict[str, np.ndarray],
    labels: dict[str, dict[str, np.ndarray]],
    *,
    label_names: list[str],
    **probe_kwargs: Any,
) -> pd.DataFrame:
    """One probe per label; columns label, f1, accuracy, val_f1, train_examples.

    The last row, label ``"mean"``, averages f1/accuracy/val_f1 over the labels.
    ``probe_kwargs`` go to :func:`fit_linear_probe`.
    """
    _check_inputs(features, labels, label_names)
    results = _probe_labels(features, labels, label_names, None, probe_kwargs)
    cols = ["label", "f1", "accuracy", "val_f1", "train_examples"]
    rows = [{k: asdict(r)[k] for k in cols} for r in results]
    rows.append({
        "label": MEAN_LABEL,
        "f1": float(np.mean([r.f1 for r in results])),
        "accuracy": float(np.mean([r.accuracy for r in results])),
        "val_f1": float(np.mean([r.val_f1 for r in results])),
        "train_examples": results[0].train_examples,
    })
    return pd.DataFrame(rows, columns=cols)


def _resolve_sizes(sizes: Sequence[int | None], n_train: int) -> list[int]:
    """Map None to n_train, clip to n_train, drop duplicates, sort ascending."""
    if not sizes:
        raise ValueError("sizes is empty")
    out = set()
    for s in sizes:
        if s is not None and s < 1:
            raise ValueError(f"sizes must be >= 1 or None, got {s}")
        out.add(n_train if s is None else min(int(s), n_train))
    return sorted(out)


def few_shot_curve(
    features: dict[str, np.ndarray],
    labels: dict[str, dict[str, np.ndarray]],
    *,
    label_names: list[str],
    sizes: list[int | None],
    seed: int = 0,
    **probe_kwargs: Any,
) -> pd.DataFrame:
    """Test F1 per label (plus a ``"mean"`` row) when probes see only n train examples.

    Sizes (None = all) are clipped to the train-set size, deduplicated and sorted. Subsets
    come from one permutation by ``numpy.random.default_rng(seed)`` and are nested (the
    n-subset is a prefix of it); the same subset is used for every label. ``seed`` is also
    the probe seed. Columns: size (actual count), label, f1.
    """
    _check_inputs(features, labels, label_names)
    n_train = int(np.asarray(features["train"]).shape[0])
    if n_train == 0:
        raise ValueError("train split is empty")
    perm = np.random.default_rng(seed).permutation(n_train)
    rows: list[dict[str, Any]] = []
    for size in _resolve_sizes(sizes, n_train):
        idx = np.sort(perm[:size])
        results = _probe_labels(
            features, labels, label_names, idx, {**probe_kwargs, "seed": seed}
        )
        rows += [{"size": size, "label": r.label, "f1": r.f1} for r in results]
        rows.append({
            "size": size, "label": MEAN_LABEL, "f1": float(np.mean([r.f1 for r in results]))
        })
    df = pd.DataFrame(rows, columns=["size", "label", "f1"])
    df["size"] = df["size"].astype(int)
    return df


def _cell(value: Any) -> str:
    """Format one markdown table cell (floats to 3 decimals, pipes escaped)."""
    if isinstance(value, float | np.floating):
        return "nan" if np.isnan(value) else f"{value:.3f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def probe_table_markdown(df: pd.DataFrame) -> str:
    """Render a DataFrame as a GitHub markdown table (no ``tabulate`` needed)."""
    cols = [str(c) for c in df.columns]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    lines = [
        "| " + " | ".join(_cell(c) for c in cols) + " |",
        "|" + "|".join("---:" if num else ":---" for num in numeric) + "|",
    ]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _ordered(values: pd.Series, last: str | None = None) -> list[Any]:
    """Unique values in first-seen order, with ``last`` (if present) moved to the end."""
    seen = list(dict.fromkeys(values.tolist()))
    if last is not None and last in seen:
        seen.remove(last)
        seen.append(last)
    return seen


def probe_bar_chart(table: pd.DataFrame, path: Path, title: str) -> Path:
    """Grouped bars of test F1 per label, one bar per encoder (columns encoder, label, f1)."""
    _require(table, ["encoder", "label", "f1"])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    encoders = _ordered(table["encoder"])
    label_order = _ordered(table["label"], last=MEAN_LABEL)
    pivot = table.pivot_table(index="label", columns="encoder", values="f1", aggfunc="mean")
    pivot = pivot.reindex(index=label_order, columns=encoders)
    x = np.arange(len(label_order))
    width = 0.8 / len(encoders)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(label_order) + 2), 4), dpi=110)
    for i, enc in enumerate(encoders):
        ax.bar(x + (i - (len(encoders) - 1) / 2) * width, pivot[enc].to_numpy(), width,
               label=str(enc))
    ax.set_xticks(x, [str(lab) for lab in label_order], rotation=30, ha="right")
    ax.set(title=title, ylabel="test F1 (weighted)", ylim=(0.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title="encoder", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")  # keeps the outside legend in the picture
    plt.close(fig)
    return Path(path)


def few_shot_chart(curves: pd.DataFrame, path: Path, title: str) -> Path:
    """Mean test F1 vs number of labelled examples, a line per encoder, log x-axis.

    ``curves`` has columns encoder, size, f1; if it also has a label column, only the
    ``"mean"`` rows are drawn.
    """
    _require(curves, ["encoder", "size", "f1"])
    if "label" in curves.columns:
        curves = curves[curves["label"] == MEAN_LABEL]
        if curves.empty:
            raise ValueError("curves has a label column but no 'mean' rows")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for enc in _ordered(curves["encoder"]):
        sub = curves[curves["encoder"] == enc].sort_values("size")
        ax.plot(sub["size"], sub["f1"], marker="o", markersize=4, label=str(enc))
    ax.set_xscale("log")
    ax.set(title=title, xlabel="labelled training examples", ylabel="mean test F1",
           ylim=(0.0, 1.0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def _require(df: pd.DataFrame, cols: Sequence[str]) -> None:
    """Raise ValueError if df is empty or lacks any of cols."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"table lacks columns {missing}")
    if df.empty:
        raise ValueError("table is empty")
