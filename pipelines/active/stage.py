"""Pool-based active learning of RAM variables from frames: the stage's logic, no Prefect.

The oracle is the console RAM (it knows where the ball and paddles are), standing in for a
human annotator, who can take its place (`oracle: human`, `arcadelab label export/import`).
A loop, per strategy: train the MC-dropout classifier on the labelled frames -> test F1 ->
score the unlabelled pool in parallel Ray tasks over shards -> query a batch -> the oracle
labels it -> ... until the label budget. `run_round` is one round; the flow calls it as one
Prefect task per round, and every round ends with the loop's state saved atomically, so a
re-run continues from the last finished round.

At the end: F1 against labels for every strategy, and the label savings against random
sampling (Settles 2009's learning-curve comparison): labels random needs to reach
`target_fraction` of the full-data F1, divided by the labels the strategy needs.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray
import torch
from mlflow import MlflowClient
from mlflow.entities import Metric

from pipelines.active import acquisition as acq
from pipelines.active.head import (
    HeadSpec,
    TrainSpec,
    f1_per_label,
    fit_head,
    head_from_state,
    head_state,
)
from pipelines.active.pool import Encoder, FrameSet, load_features, resolve_encoder
from pipelines.active.state import (
    RoundRecord,
    RoundState,
    StateError,
    load_state,
    loop_key,
    save_state,
    state_dir,
    state_path,
)
from pipelines.core.config import ActiveConfig, ArcadeConfig
from pipelines.core.progress import progress
from pipelines.data.dataset import DatasetError, Manifest, load_manifest
from pipelines.data.game_events import default_labels, default_targets
from pipelines.features.standardize import Standardizer

log = logging.getLogger("arcadelab")


class RamOracle:
    """Labels for frame ids, read from the RAM stored beside each frame."""

    def __init__(self, frames: FrameSet, table: dict[str, int], names: tuple[str, ...]):
        self._row = {fid: i for i, fid in enumerate(frames.ids)}
        self._labels = frames.labels(table, names)

    def __call__(self, ids: list[str] | tuple[str, ...]) -> np.ndarray:
        return self._labels[[self._row[i] for i in ids]]


@dataclass
class ActiveContext:
    """Everything a round needs; made once per stage run."""

    cfg: ArcadeConfig
    key: str
    state_dir: Path
    label_names: tuple[str, ...]
    target_names: tuple[str, ...]  # the labels whose mean F1 the savings are measured on
    pool_ids: np.ndarray  # (N,) frame ids of the train split: the unlabelled pool
    pool_x: np.ndarray  # (N, D) standardised features
    test_x: np.ndarray
    test_y: np.ndarray
    oracle: RamOracle
    ram_table: dict[str, int]  # label name -> RAM byte
    encoder: Encoder
    scale: Standardizer  # pool statistics, also applied to stream frames
    head: HeadSpec
    train: TrainSpec
    run_id: str | None  # the stage's MLflow run, logged to by id from any thread
    full_f1: dict[str, float] = field(default_factory=dict)
    row: dict[str, int] = field(default_factory=dict)  # frame id -> pool row
    _pool_ref: Any = None

    def __post_init__(self) -> None:
        self.row = {fid: i for i, fid in enumerate(self.pool_ids)}

    def pool_ref(self) -> ray.ObjectRef:
        """The pool's features in the Ray object store, put once and shared by every task."""
        if self._pool_ref is None:
            self._pool_ref = ray.put(self.pool_x)
        return self._pool_ref

    def target_f1(self, f1: dict[str, float]) -> float:
        return float(np.mean([f1[n] for n in self.target_names]))

    def seed_rows(self) -> np.ndarray:
        """The random seed set: the same frames for every strategy and the stream."""
        rng = np.random.default_rng([self.cfg.seed, 7])
        return np.sort(rng.choice(len(self.pool_ids), self.cfg.active.seed_size, replace=False))

    def log(self, metrics: dict[str, float], step: int = 0) -> None:
        """Finite metrics to the stage's run, by id (rounds may run on any thread)."""
        if self.run_id is None:
            return
        clean = [Metric(k, float(v), 0, step) for k, v in metrics.items()
                 if v is not None and math.isfinite(float(v))]
        if clean:
            MlflowClient().log_batch(self.run_id, metrics=clean)


def active_labels(a: ActiveConfig, manifest: Manifest
                  ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(labels, target labels): the config's, or where it names none the game's
    (`game_events.default_labels` / `default_targets`); DatasetError naming the game's labels
    when they do not fit it."""
    names = a.labels if a.labels is not None else default_labels(manifest.rom,
                                                                 manifest.usable_labels)
    if not names:
        raise DatasetError(f"active.labels: {manifest.rom} has no usable RAM labels in this "
                           f"dataset (low-entropy: {', '.join(manifest.low_entropy_labels)}); "
                           "name some with --set 'active.labels=[...]' or collect more data")
    unknown = [n for n in names if n not in manifest.labels]
    if unknown:
        raise DatasetError(f"active.labels: {unknown} are not RAM labels of {manifest.rom} "
                           f"(known: {', '.join(manifest.labels)})")
    targets = a.target_labels if a.target_labels is not None else default_targets(names)
    if not set(targets) <= set(names):
        raise DatasetError(f"active.target_labels: {list(targets)} must be among the labels "
                           f"{list(names)} (set active.labels too)")
    return tuple(names), tuple(targets)


def prepare_active(cfg: ArcadeConfig, data_path: Path, run_id: str | None) -> ActiveContext:
    """Encoder (registry alias or random), cached features, oracle, and the full-data F1."""
    a = cfg.active
    names, targets = active_labels(a, load_manifest(data_path))  # before any compute
    log.info("active: labels %s, savings measured on %s", ", ".join(names), ", ".join(targets))
    encoder = resolve_encoder(a.encoder, a.view, cfg.pretrain.feature_dim, cfg.seed)
    work = cfg.runtime.work_dir
    manifest, sets = load_features(data_path, encoder, Path(work) / "active" / "features")
    pool, test = sets["train"], sets["test"]
    if a.seed_size > len(pool):
        raise DatasetError(f"active.seed_size: {a.seed_size} exceeds the pool of {len(pool)} "
                           "train frames")
    scale = Standardizer.fit(pool.x)
    pool_x, test_x = scale(pool.x), scale(test.x)
    key = loop_key(cfg, manifest.digest(), encoder.source)
    ctx = ActiveContext(
        cfg=cfg, key=key, state_dir=state_dir(work, key), label_names=names,
        target_names=targets, pool_ids=pool.ids, pool_x=pool_x, test_x=test_x,
        test_y=test.labels(manifest.labels, names), oracle=RamOracle(pool, manifest.labels, names),
        ram_table=dict(manifest.labels),
        encoder=encoder, scale=scale,
        head=HeadSpec(pool_x.shape[1], len(names), a.hidden, a.dropout),
        train=TrainSpec(a.epochs, a.min_steps, a.train_batch_size, a.lr, a.weight_decay),
        run_id=run_id)
    ctx.full_f1 = full_data_f1(ctx)
    if run_id is not None:
        client = MlflowClient()
        client.set_tag(run_id, "arcadelab.encoder", encoder.source)
        client.set_tag(run_id, "arcadelab.encoder_random", str(encoder.is_random).lower())
        client.set_tag(run_id, "arcadelab.al_key", key)
        client.set_tag(run_id, "arcadelab.dataset_digest", manifest.digest())
        client.set_tag(run_id, "arcadelab.al_labels", ",".join(names))
        client.set_tag(run_id, "arcadelab.al_target_labels", ",".join(targets))
        ctx.log({f"al/full_data_f1/{n}": v for n, v in ctx.full_f1.items()}
             | {"al/full_data_f1": ctx.target_f1(ctx.full_f1), "al/pool_frames": len(pool)})
    return ctx


def full_data_f1(ctx: ActiveContext) -> dict[str, float]:
    """Test F1 of the classifier trained on every pool frame (the reference the savings are
    measured against); computed once per loop key and kept beside the states."""
    file = ctx.state_dir / "full_data_f1.json"
    if file.is_file():
        return json.loads(file.read_text())
    y = ctx.oracle(tuple(ctx.pool_ids))
    head = fit_head(ctx.pool_x, y, ctx.head, ctx.train, seed=ctx.cfg.seed)
    f1 = f1_per_label(head, ctx.test_x, ctx.test_y, ctx.label_names)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(f1))
    tmp.replace(file)
    return f1


def _log_record(ctx: ActiveContext, strategy: str, rec: RoundRecord) -> None:
    f1 = ctx.target_f1(rec.f1)
    ctx.log({f"al/{strategy}/labels": rec.labels, f"al/{strategy}/f1": f1,
               f"al/{strategy}/mean_f1": float(np.mean(list(rec.f1.values())))}
         | {f"al/{strategy}/f1/{n}": v for n, v in rec.f1.items()}, step=rec.round)
    ctx.log({f"al/{strategy}/f1_by_labels": f1}, step=rec.labels)


def start_state(ctx: ActiveContext, strategy: str) -> RoundState:
    """The saved state of this loop (its history re-logged to this run), or a new one whose
    pending query is the random seed set."""
    acq.check_strategy(strategy)
    path = state_path(ctx.cfg.runtime.work_dir, ctx.key, strategy)
    state = load_state(path, ctx.key, strategy)
    if state is not None:
        if state.label_names != ctx.label_names:
            raise StateError(f"{path} has labels {state.label_names}, not {ctx.label_names}")
        log.info("active: %s resumes after round %d with %d labels", strategy, state.round,
                 len(state.labelled))
        for rec in state.history:
            _log_record(ctx, strategy, rec)
        if state.done and len(state.labelled) < ctx.cfg.active.budget:
            state = _extend(ctx, state)
        return state
    state = RoundState(ctx.key, strategy, ctx.label_names,
                       pending=tuple(ctx.pool_ids[ctx.seed_rows()]))
    save_state(path, state)
    return state


def _extend(ctx: ActiveContext, state: RoundState) -> RoundState:
    """A finished loop whose budget was raised: it queries on from its last round."""
    return replace(state, done=False)


def run_round(ctx: ActiveContext, state: RoundState) -> RoundState:
    """One round: label what is pending (RAM oracle) -> train -> test F1 -> query the next
    batch -> save. With a human oracle and unlabelled pending frames, returns unchanged."""
    a = ctx.cfg.active
    if state.pending and not state.done:
        if a.oracle == "human":
            return state  # waits for `arcadelab label import`
        state = state.add_labels(state.pending, ctx.oracle(state.pending).tolist(), "ram")
    idx = np.array([ctx.row[i] for i in state.labelled])
    y = np.array([state.labels[i] for i in state.labelled], dtype=np.int64)
    seed = int(np.random.SeedSequence([ctx.cfg.seed, state.round]).generate_state(1)[0])
    head = fit_head(ctx.pool_x[idx], y, ctx.head, ctx.train, seed=seed)
    f1 = f1_per_label(head, ctx.test_x, ctx.test_y, ctx.label_names)
    rec = RoundRecord(state.round, len(idx), f1)
    _log_record(ctx, state.strategy, rec)
    log.info("active: %s round %d: %d labels, F1 %.3f", state.strategy, state.round, len(idx),
             ctx.target_f1(f1))
    n = len(state.labelled)
    if n >= a.budget:
        state = replace(state, round=state.round + 1, history=(*state.history, rec), done=True)
    else:
        k = min(a.batch_size, a.budget - n)
        picks = query(ctx, state.strategy, head, idx, k, seed)
        state = replace(state, round=state.round + 1, history=(*state.history, rec),
                        pending=tuple(ctx.pool_ids[picks]))
    save_state(state_path(ctx.cfg.runtime.work_dir, ctx.key, state.strategy), state)
    return state


def run_rounds(ctx: ActiveContext, state: RoundState,
               one_round: Callable[[ActiveContext, RoundState], RoundState] = run_round
               ) -> RoundState:
    """Rounds until the label budget is spent, or until a person must label the pending
    frames; progress counts the labels bought. `one_round`: the flow's Prefect task."""
    a = ctx.cfg.active

    def more(s: RoundState) -> bool:
        return not s.done and not (s.pending and a.oracle == "human")

    if not more(state):
        return state  # finished, or waiting for a person: nothing to show
    with progress(a.budget, f"active {state.strategy}", "labels",
                  initial=len(state.labelled)) as bar:
        while more(state):
            state = one_round(ctx, state)
            bar.update(len(state.labelled), round=state.round,
                       f1=ctx.target_f1(state.history[-1].f1))
    return state


def query(ctx: ActiveContext, strategy: str, head: torch.nn.Module, labelled: np.ndarray,
          k: int, seed: int) -> np.ndarray:
    """Pool rows to label next (k of them, none already labelled)."""
    mask = np.ones(len(ctx.pool_ids), bool)
    mask[labelled] = False
    unlabelled = np.flatnonzero(mask)
    rng = np.random.default_rng(seed)
    if strategy == "random":
        return unlabelled[acq.top_k(acq.random_scores(len(unlabelled), rng), k)]
    if strategy in acq.EMBED_STRATEGIES:
        emb = head.embed(torch.from_numpy(ctx.pool_x)).numpy()
        dist = sharded_min_distances(emb[unlabelled], emb[labelled], ctx.cfg.active.score_shards)
        return unlabelled[acq.k_center_greedy(emb[unlabelled], k, min_dist=dist)]
    state = head_state(head, ctx.head)
    scores = score_pool(ctx.pool_ref(), unlabelled, state, strategy, ctx.cfg.active.mc_samples,
                        ctx.cfg.active.score_shards, seed)
    return unlabelled[acq.top_k(scores, k)]


@ray.remote(num_cpus=1)
def _score_shard(pool: np.ndarray, rows: np.ndarray, state: dict[str, Any], strategy: str,
                 mc_samples: int, seed: int) -> np.ndarray:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    head = head_from_state(state)
    x = torch.from_numpy(np.ascontiguousarray(pool[rows]))
    if strategy in acq.MC_STRATEGIES:
        probs = head.mc_probs(x, mc_samples).numpy()
    else:
        probs = head.probs(x).numpy()
    return acq.SCORERS[strategy](probs).astype(np.float64)


def score_pool(pool_ref: ray.ObjectRef, rows: np.ndarray, state: dict[str, Any], strategy: str,
               mc_samples: int, shards: int, seed: int) -> np.ndarray:
    """Scores of pool `rows`, one Ray task per shard (the pool is read from the object store,
    the head rebuilt from its weights); in `rows` order."""
    parts = [p for p in np.array_split(rows, max(1, min(shards, len(rows)))) if len(p)]
    head_ref = ray.put(state)
    refs = [_score_shard.remote(pool_ref, p, head_ref, strategy, mc_samples, seed + i)
            for i, p in enumerate(parts)]
    out = ray.get(refs)
    return np.concatenate(out) if out else np.zeros(0)


@ray.remote(num_cpus=1)
def _min_dist_shard(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return acq.min_sq_distances(points, centers)


def sharded_min_distances(points: np.ndarray, centers: np.ndarray, shards: int) -> np.ndarray:
    """Distance of each point to its nearest labelled point, one Ray task per shard."""
    if len(centers) == 0:
        return np.full(len(points), np.inf)
    centers_ref = ray.put(centers)
    parts = np.array_split(np.arange(len(points)), max(1, min(shards, len(points))))
    return np.concatenate(ray.get([_min_dist_shard.remote(points[p], centers_ref)
                                   for p in parts if len(p)]))


# ---------------------------------------------------------------- learning curves, savings


def labels_to_reach(labels: np.ndarray, f1: np.ndarray, target: float) -> float | None:
    """Labels at which a learning curve first reaches `target`, linearly interpolated between
    the rounds around the crossing; None if it never does."""
    labels = np.asarray(labels, dtype=float)
    f1 = np.asarray(f1, dtype=float)
    if labels.shape != f1.shape:
        raise ValueError(f"labels {labels.shape} and f1 {f1.shape} differ in shape")
    order = np.argsort(labels, kind="stable")
    labels, f1 = labels[order], f1[order]
    hit = np.flatnonzero(f1 >= target)
    if hit.size == 0:
        return None
    i = int(hit[0])
    if i == 0:
        return float(labels[0])
    x0, x1, y0, y1 = labels[i - 1], labels[i], f1[i - 1], f1[i]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))


def label_savings(random_needs: float | None, strategy_needs: float | None,
                  random_max_labels: float) -> tuple[float, bool]:
    """(random's labels / the strategy's labels, is_lower_bound). When random never reaches
    the target within its curve, its largest label count is a lower bound on what it needs, so
    the ratio is a lower bound; NaN when the strategy itself never reaches it."""
    if strategy_needs is None or strategy_needs <= 0:
        return math.nan, False
    if random_needs is None:
        return random_max_labels / strategy_needs, True
    return random_needs / strategy_needs, False


@dataclass(frozen=True)
class ActiveResult:
    curves: pd.DataFrame  # strategy, round, labels, f1 (target mean), mean_f1, f1/<label>
    full_f1: float  # target labels' mean F1 with the whole pool labelled
    target_f1: float
    labels_to_target: dict[str, float | None]
    savings: dict[str, float]  # strategy -> ratio vs random (NaN: undefined)
    savings_lower_bound: dict[str, bool]
    best: str | None
    waiting: dict[str, int]  # strategy -> frames waiting for a person's labels
    encoder: str
    state_dir: Path
    stream: Any = None  # StreamResult when stream AL ran

    def describe(self) -> str:
        if self.waiting:
            which = ", ".join(f"{n} frames of {s}" for s, n in self.waiting.items())
            return (f"waiting for labels ({which}): `arcadelab label export`, then `arcadelab "
                    f"label import` with the same options (states in {self.state_dir})")
        best = (f"best {self.best}: {self.savings[self.best]:.2f}x fewer labels than random"
                if self.best else "no strategy reached the target")
        stream = f"; {self.stream.describe()}" if self.stream is not None else ""
        return (f"full-data F1 {self.full_f1:.3f}, target {self.target_f1:.3f}; {best} "
                f"(encoder {self.encoder}){stream}")


def curves_frame(ctx: ActiveContext, states: dict[str, RoundState]) -> pd.DataFrame:
    rows = []
    for strategy, state in states.items():
        for rec in state.history:
            rows.append({"strategy": strategy, "round": rec.round, "labels": rec.labels,
                         "f1": ctx.target_f1(rec.f1),
                         "mean_f1": float(np.mean(list(rec.f1.values())))}
                        | {f"f1/{n}": v for n, v in rec.f1.items()})
    cols = ["strategy", "round", "labels", "f1", "mean_f1",
            *(f"f1/{n}" for n in ctx.label_names)]
    return pd.DataFrame(rows, columns=cols)


def finish_active(ctx: ActiveContext, states: dict[str, RoundState], stream: Any = None
                  ) -> ActiveResult:
    """Curves, label savings against random, the F1-vs-labels plot; logged to the stage run."""
    a = ctx.cfg.active
    curves = curves_frame(ctx, states)
    full = ctx.target_f1(ctx.full_f1)
    target = a.target_fraction * full
    needs: dict[str, float | None] = {}
    for s in states:
        c = curves[curves.strategy == s]
        needs[s] = labels_to_reach(c.labels.to_numpy(), c.f1.to_numpy(), target)
    savings: dict[str, float] = {}
    lower: dict[str, bool] = {}
    if "random" in states:
        rand = curves[curves.strategy == "random"]
        rmax = float(rand.labels.max()) if len(rand) else math.nan
        for s in states:
            if s != "random":
                savings[s], lower[s] = label_savings(needs["random"], needs[s], rmax)
    finite = {s: v for s, v in savings.items() if math.isfinite(v)}
    best = max(finite, key=finite.get) if finite else None
    waiting = {s: len(st.pending) for s, st in states.items() if st.waiting and not st.done}
    metrics = {"al/target_f1": target, "al/full_data_f1": full}
    metrics |= {f"al/{s}/labels_to_target": v for s, v in needs.items() if v is not None}
    metrics |= {f"al/label_savings_vs_random/{s}": v for s, v in savings.items()}
    if best is not None:
        metrics["al/label_savings_vs_random"] = finite[best]
    ctx.log(metrics)
    if best is not None and ctx.run_id is not None:
        MlflowClient().set_tag(ctx.run_id, "arcadelab.al_best_strategy", best)
        MlflowClient().set_tag(ctx.run_id, "arcadelab.al_savings_lower_bound",
                               str(lower[best]).lower())
    if len(curves) and ctx.run_id is not None:
        _log_report(ctx.run_id, curves, needs, savings, lower, full, target)
    return ActiveResult(curves, full, target, needs, savings, lower, best, waiting,
                        ctx.encoder.source, ctx.state_dir, stream)


def _log_report(run_id: str, curves: pd.DataFrame, needs: dict[str, float | None],
                savings: dict[str, float], lower: dict[str, bool], full: float,
                target: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        curves.to_csv(out / "curves.csv", index=False)
        pd.DataFrame([{"strategy": s, "labels_to_target": needs[s],
                       "savings_vs_random": savings.get(s, 1.0 if s == "random" else math.nan),
                       "lower_bound": lower.get(s, False)} for s in needs]
                     ).to_csv(out / "savings.csv", index=False)
        f1_vs_labels_chart(curves, full, target, out / "f1_vs_labels.png")
        MlflowClient().log_artifacts(run_id, str(out), "al")


def f1_vs_labels_chart(curves: pd.DataFrame, full: float, target: float, path: Path,
                       title: str = "Active learning: test F1 vs labelled frames") -> Path:
    """One line per strategy (F1 of the target labels), the full-data F1 and the target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for s in dict.fromkeys(curves.strategy):
        c = curves[curves.strategy == s].sort_values("labels")
        ax.plot(c.labels, c.f1, marker="o", markersize=2.5, linewidth=1.6 if s != "random"
                else 2.4, color="black" if s == "random" else None, label=s)
    ax.axhline(full, color="grey", linestyle=":", label=f"every pool frame labelled ({full:.3f})")
    ax.axhline(target, color="grey", linestyle="--", label=f"target ({target:.3f})")
    ax.set(title=title, xlabel="labelled frames", ylabel="test F1 (mean over target labels)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
