"""Curriculum learning over examples (Bengio, Louradour, Collobert & Weston 2009): present the
easy frames first and let harder ones in as training goes on, against random order and an
anti-curriculum (hardest first), on the same budget of SGD steps.

- Difficulty per frame: `reference_loss`, the loss of a reference classifier that did not see
  the frame (two-fold cross-fitting; Hacohen & Weinshall 2019 score with a reference model
  too), or `ball_speed`, RAM-derived: how far the ball moved since the previous step (games
  whose labels have ball_x and ball_y; refused on others before any compute).
- Labels predicted: `data_curriculum.labels`, or where it names none the game's
  (`game_events.default_labels`: Pong's three, else up to 3 usable labels of the dataset).
- Pacing (how much of the ordered data is available at step t, Hacohen & Weinshall 2019;
  Platanios et al. 2019's competence): `fixed_steps` (a staircase of equal increments),
  `linear`, `root` (square root: fast early growth). All start at `start_fraction` and reach
  all data at `ramp_fraction` of the budget; minibatches are drawn uniformly from what is
  available.

The classifier and frozen features are the active-learning stage's (`al_head`, `al_pool`).
Runs train side by side as Ray tasks, one per (order, pacing).
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import ray
import torch

from pipelines.active.head import HeadSpec, TrainSpec, f1_per_label, fit_head, per_example_loss
from pipelines.active.pool import (
    FrameSet,
    load_features,
    parse_frame_id,
    resolve_encoder,
)
from pipelines.core.config import ArcadeConfig, DataCurriculumConfig
from pipelines.core.tracking import log_metrics
from pipelines.data.dataset import DatasetError, Manifest, load_manifest
from pipelines.data.game_events import default_labels
from pipelines.features.standardize import Standardizer

log = logging.getLogger("arcadelab")
BASELINE = "baseline"  # no pacing: all data from the first step, random order


def pacing_fraction(kind: str, step: int, total: int, start: float, ramp: float = 1.0,
                    levels: int = 5) -> float:
    """Share of the ordered data available at `step` of `total`: `start` at step 0, all of it
    from step ramp * total on, nondecreasing in between (fixed_steps / linear / root)."""
    if total < 1 or not 0.0 < start <= 1.0 or not 0.0 < ramp <= 1.0 or levels < 1:
        raise ValueError(f"need total >= 1, start and ramp in (0, 1], levels >= 1 (got {total}, "
                         f"{start}, {ramp}, {levels})")
    progress = min(1.0, max(0.0, step / (ramp * total)))
    if kind == "linear":
        return start + (1.0 - start) * progress
    if kind == "root":
        return math.sqrt(start ** 2 + (1.0 - start ** 2) * progress)
    if kind == "fixed_steps":
        return start + (1.0 - start) * math.floor(levels * progress) / levels
    raise ValueError(f"unknown pacing {kind!r} (known: fixed_steps, linear, root)")


def available(fraction: float, n: int) -> int:
    """Examples available at a pacing fraction: at least one, at most n."""
    return min(n, max(1, math.ceil(fraction * n - 1e-9)))


def example_order(kind: str, difficulty: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices easy -> hard (`curriculum`), hard -> easy (`anti`) or shuffled (`random`); ties
    broken at random so equal difficulties do not follow storage order."""
    difficulty = np.asarray(difficulty, dtype=float)
    tie = rng.permutation(len(difficulty))
    if kind == "curriculum":
        return np.lexsort((tie, difficulty))
    if kind == "anti":
        return np.lexsort((tie, -difficulty))
    if kind == "random":
        return tie
    raise ValueError(f"unknown order {kind!r} (known: curriculum, anti, random)")


def paced_sampler(order: np.ndarray, pacing: str | None, total: int, batch_size: int,
                  start: float, ramp: float, levels: int):
    """Minibatch sampler for `fit_head`: uniform over the first `available(g(step))` examples
    of `order` (over all of them when pacing is None)."""
    n = len(order)

    def sample(step: int, rng: np.random.Generator) -> np.ndarray:
        k = n if pacing is None else available(
            pacing_fraction(pacing, step, total, start, ramp, levels), n)
        return order[rng.integers(0, k, size=min(batch_size, k))]
    return sample


def ball_speed(frames: FrameSet, table: dict[str, int]) -> np.ndarray:
    """|dx| + |dy| of the ball since the previous step of the same episode (0 at an episode's
    first frame): fast balls are where the frame stack blurs most."""
    x = frames.ram[:, table["ball_x"]].astype(float)
    y = frames.ram[:, table["ball_y"]].astype(float)
    episodes = np.array([parse_frame_id(i)[0] for i in frames.ids])
    speed = np.zeros(len(frames))
    same = episodes[1:] == episodes[:-1]
    speed[1:] = np.where(same, np.abs(np.diff(x)) + np.abs(np.diff(y)), 0.0)
    return speed


def reference_loss(x: np.ndarray, y: np.ndarray, spec: HeadSpec, train: TrainSpec,
                   seed: int) -> np.ndarray:
    """Two-fold cross-fitted loss: each frame scored by a classifier trained on the other half,
    so the score says how hard the frame is, not whether it was memorised."""
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(x)) % 2
    out = np.zeros(len(x))
    for f in (0, 1):
        fit_rows, score_rows = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        head = fit_head(x[fit_rows], y[fit_rows], spec, train, seed=seed + f)
        out[score_rows] = per_example_loss(head, x[score_rows], y[score_rows])
    return out


@ray.remote(num_cpus=1)
def _train_run(x: np.ndarray, y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
               order: np.ndarray, pacing: str | None, spec: HeadSpec, train: TrainSpec,
               c: dict, names: tuple[str, ...], seed: int) -> list[tuple[int, float]]:
    torch.set_num_threads(1)
    curve: list[tuple[int, float]] = []

    def record(step: int, head: torch.nn.Module) -> None:
        curve.append((step, float(np.mean(list(f1_per_label(head, test_x, test_y,
                                                             names).values())))))

    sampler = paced_sampler(order, pacing, c["steps"], c["batch_size"], c["start_fraction"],
                            c["ramp_fraction"], c["levels"])
    fit_head(x, y, spec, train, seed, steps=c["steps"], sampler=sampler, every=c["eval_every"],
             on_eval=record)
    return curve


@dataclass(frozen=True)
class CurriculumResult:
    curves: pd.DataFrame  # order, pacing, step, f1
    final: pd.DataFrame  # order, pacing, final_f1, mean_f1 (area under the curve / steps)
    difficulty: str
    encoder: str

    def describe(self) -> str:
        best = self.final.sort_values("final_f1", ascending=False).iloc[0]
        base = self.final[self.final.order == BASELINE]
        vs = f" vs baseline {base.final_f1.iloc[0]:.3f}" if len(base) else ""
        return (f"best {best.order}/{best.pacing}: final F1 {best.final_f1:.3f}{vs} "
                f"({self.difficulty} difficulty)")


def curriculum_labels(c: DataCurriculumConfig, manifest: Manifest) -> tuple[str, ...]:
    """The labels to predict (the config's, or the game's where it names none); DatasetError
    when they, or the difficulty measure, do not fit the dataset's game."""
    if c.difficulty == "ball_speed" and not {"ball_x", "ball_y"} <= set(manifest.labels):
        raise DatasetError(f"data_curriculum.difficulty: ball_speed needs ball_x and ball_y "
                           f"RAM labels, which {manifest.rom} does not have; use "
                           "difficulty=reference_loss")
    names = c.labels if c.labels is not None else default_labels(manifest.rom,
                                                                 manifest.usable_labels)
    if not names:
        raise DatasetError(f"data_curriculum.labels: {manifest.rom} has no usable RAM labels "
                           f"in this dataset (low-entropy: "
                           f"{', '.join(manifest.low_entropy_labels)}); collect more data")
    unknown = [n for n in names if n not in manifest.labels]
    if unknown:
        raise DatasetError(f"data_curriculum.labels: {unknown} are not RAM labels of "
                           f"{manifest.rom} (known: {', '.join(manifest.labels)})")
    return tuple(names)


def run_data_curriculum(cfg: ArcadeConfig, data_path: Path) -> CurriculumResult:
    c: DataCurriculumConfig = cfg.data_curriculum
    problem = c.game_problem(cfg.game)  # what the config could tell from the game alone
    if problem:
        raise DatasetError(f"data_curriculum.{problem}")
    names = curriculum_labels(c, load_manifest(data_path))  # before any compute
    log.info("curriculum: labels %s, %s difficulty", ", ".join(names), c.difficulty)
    encoder = resolve_encoder(c.encoder, c.view, cfg.pretrain.feature_dim, cfg.seed)
    manifest, sets = load_features(data_path, encoder,
                                   Path(cfg.runtime.work_dir) / "active" / "features")
    train_set, test_set = sets["train"], sets["test"]
    scale = Standardizer.fit(train_set.x)
    x, test_x = scale(train_set.x), scale(test_set.x)
    y, test_y = train_set.labels(manifest.labels, names), test_set.labels(manifest.labels, names)
    spec = HeadSpec(x.shape[1], len(names), c.hidden, c.dropout)
    train = TrainSpec(c.reference_epochs, 1, c.batch_size, c.lr, c.weight_decay)
    if c.difficulty == "ball_speed":
        difficulty = ball_speed(train_set, manifest.labels)
    else:
        log.info("curriculum: scoring %d frames with cross-fitted reference models", len(x))
        difficulty = reference_loss(x, y, spec, train, cfg.seed)
    rng = np.random.default_rng([cfg.seed, 3])
    runs: list[tuple[str, str | None]] = [(o, p) for o in c.orders for p in c.pacings]
    if c.baseline:
        runs.append((BASELINE, None))
    refs = [ray.put(a) for a in (x, y, test_x, test_y)]
    knobs = c.model_dump()
    futures = {}
    for order, pacing in runs:
        idx = example_order("random" if order == BASELINE else order, difficulty, rng)
        futures[(order, pacing)] = _train_run.remote(*refs, idx, pacing, spec, train, knobs,
                                                     names, cfg.seed)
    rows = []
    for (order, pacing), ref in futures.items():
        for step, f1 in ray.get(ref):
            rows.append({"order": order, "pacing": pacing or "none", "step": step, "f1": f1})
    curves = pd.DataFrame(rows, columns=["order", "pacing", "step", "f1"])
    final = (curves.sort_values("step").groupby(["order", "pacing"], sort=False)
             .agg(final_f1=("f1", "last"), mean_f1=("f1", "mean")).reset_index())
    _log(curves, final, c, difficulty)
    result = CurriculumResult(curves, final, c.difficulty, encoder.source)
    mlflow.set_tag("arcadelab.encoder", encoder.source)
    log.info("curriculum: %s", result.describe())
    return result


def _key(order: str, pacing: str) -> str:
    return f"curriculum/{order}" if order == BASELINE else f"curriculum/{order}/{pacing}"


def _log(curves: pd.DataFrame, final: pd.DataFrame, c: DataCurriculumConfig,
         difficulty: np.ndarray) -> None:
    for r in curves.itertuples():
        log_metrics({f"{_key(r.order, r.pacing)}/f1": r.f1}, step=int(r.step))
    log_metrics({f"{_key(r.order, r.pacing)}/final_f1": r.final_f1 for r in final.itertuples()}
                | {f"{_key(r.order, r.pacing)}/mean_f1": r.mean_f1 for r in final.itertuples()}
                | {f"curriculum/{o}/final_f1": final[final.order == o].final_f1.mean()
                   for o in c.orders})
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        curves.to_csv(out / "curves.csv", index=False)
        final.to_csv(out / "final.csv", index=False)
        np.save(out / "difficulty.npy", difficulty)
        curriculum_chart(curves, c, out / "f1_curves.png")
        mlflow.log_artifacts(str(out), "curriculum")


def curriculum_chart(curves: pd.DataFrame, c: DataCurriculumConfig, path: Path) -> Path:
    """Left: test F1 against SGD steps per (order, pacing); right: the pacing functions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"curriculum": "tab:green", "anti": "tab:red", "random": "tab:blue",
              BASELINE: "black"}
    styles = {"fixed_steps": ":", "linear": "-", "root": "--", "none": "-"}
    fig, (ax, pax) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110,
                                  gridspec_kw={"width_ratios": [2.2, 1]})
    for (order, pacing), g in curves.groupby(["order", "pacing"], sort=False):
        g = g.sort_values("step")
        ax.plot(g.step, g.f1, linestyle=styles.get(pacing, "-"), color=colors.get(order),
                linewidth=2.2 if order == BASELINE else 1.4,
                label=order if order == BASELINE else f"{order} / {pacing}")
    ax.set(title="Data curriculum: test F1 vs SGD steps", xlabel="SGD step",
           ylabel="test F1 (mean over labels)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", ncol=2, loc="lower right")
    t = np.arange(c.steps + 1)
    for p in c.pacings:
        pax.plot(t, [pacing_fraction(p, s, c.steps, c.start_fraction, c.ramp_fraction,
                                     c.levels) for s in t], linestyle=styles[p], label=p,
                 color="tab:purple")
    pax.set(title="pacing: share of ordered data", xlabel="SGD step", ylim=(0, 1.05))
    pax.grid(alpha=0.3)
    pax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
