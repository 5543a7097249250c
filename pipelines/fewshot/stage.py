"""The few-shot stage: classify game states (an object's quadrant: Pong's ball) from k labelled
examples per class with prototypical networks (Snell et al. 2017) on the frozen encoder,
accuracy vs k; and zero-shot from RAM-side prompts built from the class definition
(`pipelines/fewshot/zeroshot.py`).

The classes come from the game's labels: quadrants of its first (x, y) position pair (ball,
then player, then any other; `game_events.position_pairs`). A game without one is skipped,
said in one line before any compute. Embeddings compared: the frozen encoder's (standardised)
features; a ProtoNet head meta-trained episodically on *other* classes (tertiles of the game's
other usable labels; Pong: the paddle heights), so the quadrant classes are new to it; and the
frame tower of the frame-RAM model that zero-shot uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import ray
import torch

from models.prototypical import ProtoNet, class_prototypes, prototype_logits, prototypical_loss
from pipelines.core.charts import lines, log_png, log_table
from pipelines.core.config import ArcadeConfig, FewshotConfig
from pipelines.core.torch_fit import predict, submit
from pipelines.core.tracking import log_metrics
from pipelines.data.dataset import DatasetError, Manifest, load_manifest
from pipelines.data.game_events import (
    KNOWN_QUADRANTS,
    QUADRANTS,
    Quadrants,
    position_pairs,
    quadrants_from_data,
)
from pipelines.data.modalities import load_modalities
from pipelines.data.prep import log_dataset_input
from pipelines.data.splits import SPLITS
from pipelines.features.frozen import load_frozen_encoder, standardize
from pipelines.fewshot.zeroshot import class_embeddings, class_prompts, zero_shot_predict
from pipelines.multimodal.retrieval import ClipSettings, train_clip

log = logging.getLogger("arcadelab")
# Pong's meta-training classes (paddle-height tertiles), kept so its results stay comparable.
PONG_BASE_TASKS = ("player_y", "enemy_y")


class FewShotError(DatasetError):
    """The dataset has fewer examples of a class than a few-shot k asks for."""


@dataclass(frozen=True)
class FewshotPlan:
    """What the stage classifies on a game, decided from its manifest before any compute."""

    obj: str  # whose quadrant: "ball", "player", ...
    x_label: str
    y_label: str
    known: Quadrants | None  # a measured playfield (Pong); None: derived from the train split
    base_tasks: tuple[str, ...]  # labels whose tertiles meta-train the ProtoNet
    base_name: str  # how the ProtoNet embedding is named

    def quadrants(self, train_ram: np.ndarray, idx: Mapping[str, int]) -> Quadrants:
        if self.known is not None:
            return self.known
        return quadrants_from_data(self.obj, self.x_label, self.y_label,
                                   train_ram[:, idx[self.x_label]], train_ram[:, idx[self.y_label]])


def plan_fewshot(manifest: Manifest) -> FewshotPlan | str:
    """The plan, or why the game is skipped (its labels hold no (x, y) position pair).
    DatasetError when it has pairs but this dataset's are all low-entropy (a data problem)."""
    known = KNOWN_QUADRANTS.get(manifest.rom)
    if known is not None and {known.x_label, known.y_label} <= set(manifest.labels):
        base = tuple(n for n in PONG_BASE_TASKS if n in manifest.labels)
        return FewshotPlan(known.obj, known.x_label, known.y_label, known, base, "paddle")
    pairs = position_pairs(manifest.labels)
    if not pairs:
        return (f"{manifest.rom} has no (x, y) position pair among its RAM labels "
                f"({', '.join(manifest.labels) or 'none'}); the few-shot classes are quadrants "
                "of an object's position")
    low = set(manifest.low_entropy_labels)
    usable = [p for p in pairs if not {p[1], p[2]} & low]
    if not usable:
        raise DatasetError(f"fewshot: every position pair of {manifest.rom} "
                           f"({', '.join(f'{x}/{y}' for _, x, y in pairs)}) is low-entropy in "
                           "this dataset; collect more data (data.steps_per_task)")
    obj, x, y = usable[0]
    # Tertiles need 3 distinct values; low-entropy labels are reported, not used.
    distinct = {r.get("label"): r.get("distinct", 3) for r in manifest.label_stats}
    base = tuple(n for n in manifest.labels if n not in (x, y) and n not in low
                 and distinct.get(n, 3) >= 3)
    return FewshotPlan(obj, x, y, None, base, "RAM-label")


@dataclass(frozen=True)
class FewshotResult:
    curve: pd.DataFrame  # embedding, k, accuracy, std, episodes
    zero_shot: dict[str, float]  # accuracy, chance, per-class accuracy (empty when off)
    encoder: str
    skipped: str = ""  # why the stage did not run on this game (empty: it ran)

    def describe(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        best = self.curve.sort_values("k").groupby("embedding").accuracy.last()
        text = "few-shot acc at k=" + str(int(self.curve.k.max())) + ": " + ", ".join(
            f"{e} {a:.3f}" for e, a in best.items())
        if self.zero_shot:
            text += (f"; zero-shot {self.zero_shot['accuracy']:.3f}, balanced "
                     f"{self.zero_shot['balanced_accuracy']:.3f} (chance "
                     f"{self.zero_shot['chance']:.2f})")
        return text


def check_shots(y_train: np.ndarray, shots: tuple[int, ...], names: tuple[str, ...]) -> None:
    """FewShotError unless every class has at least max(shots) train examples."""
    counts = np.bincount(y_train, minlength=len(names))
    k = max(shots)
    short = [f"{names[c]} ({counts[c]})" for c in range(len(names)) if counts[c] < k]
    if short:
        raise FewShotError(
            f"fewshot.shots asks for k={k} examples per class, but the train split has fewer "
            f"for: {', '.join(short)}; lower fewshot.shots or collect more data")


def episode_accuracy(embed: Callable[[np.ndarray], np.ndarray], train_x: np.ndarray,
                     train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, k: int,
                     episodes: int, queries: int, classes: int, rng: np.random.Generator
                     ) -> tuple[float, float]:
    """Mean and std of query accuracy over episodes: k support examples per class drawn from
    train, up to `queries` per class from test, nearest prototype in the embedding."""
    emb_train, emb_test = torch.from_numpy(embed(train_x)), torch.from_numpy(embed(test_x))
    by_class = [np.flatnonzero(train_y == c) for c in range(classes)]
    test_by_class = [np.flatnonzero(test_y == c) for c in range(classes)]
    accs = []
    for _ in range(episodes):
        sup = np.concatenate([rng.choice(ix, k, replace=False) for ix in by_class])
        qry = np.concatenate([rng.choice(ix, min(queries, len(ix)), replace=False)
                              for ix in test_by_class if len(ix)])
        protos = class_prototypes(emb_train[sup], torch.from_numpy(train_y[sup]), classes)
        pred = prototype_logits(emb_test[qry], protos).argmax(1).numpy()
        accs.append(float(np.mean(pred == test_y[qry])))
    return float(np.mean(accs)), float(np.std(accs))


def tertiles(values: np.ndarray, train_values: np.ndarray) -> np.ndarray:
    """Class 0/1/2 by the train split's 1/3 and 2/3 quantiles."""
    cuts = np.quantile(train_values, [1 / 3, 2 / 3])
    return np.searchsorted(cuts, values, side="right")


def meta_train_protonet(x: np.ndarray, tasks: list[np.ndarray], fc: FewshotConfig, seed: int
                        ) -> ProtoNet:
    """Ray task body: episodic training (3-way, 5-shot, 10 queries per class) on base tasks;
    fc.meta_episodes episodes, width fc.hidden, Adam at fc.lr."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = ProtoNet(x.shape[1], fc.hidden, fc.hidden // 2)
    opt = torch.optim.Adam(net.parameters(), lr=fc.lr)
    xt = torch.from_numpy(np.array(x))  # a writable copy (Ray hands read-only arrays)
    for _ in range(fc.meta_episodes):
        y = tasks[rng.integers(len(tasks))]
        by_class = [np.flatnonzero(y == c) for c in range(3)]
        if min(len(ix) for ix in by_class) < 2:
            continue
        picks = [rng.choice(ix, min(len(ix), 15), replace=False) for ix in by_class]
        sup = np.concatenate([p[:max(1, min(5, len(p) // 2))] for p in picks])
        qry = np.concatenate([p[max(1, min(5, len(p) // 2)):] for p in picks])
        loss = prototypical_loss(net(xt[sup]), torch.from_numpy(y[sup]), net(xt[qry]),
                                 torch.from_numpy(y[qry]), 3)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def run_fewshot_stage(cfg: ArcadeConfig, data_path: Path) -> FewshotResult:
    """Runs inside the stage's MLflow run."""
    plan = plan_fewshot(load_manifest(data_path))  # the manifest only: no compute yet
    if isinstance(plan, str):
        log.warning("fewshot: skipped: %s", plan)
        if mlflow.active_run() is not None:
            mlflow.set_tag("arcadelab.skipped", plan)
        return FewshotResult(pd.DataFrame(columns=["embedding", "k", "accuracy", "std",
                                                   "episodes"]), {}, "", skipped=plan)
    if mlflow.active_run() is None:
        raise RuntimeError("run_fewshot_stage must run inside the stage's MLflow run")
    log.info("fewshot: classes: %s quadrant (%s, %s); ProtoNet base tasks: %s", plan.obj,
             plan.x_label, plan.y_label, ", ".join(plan.base_tasks) or "none (ProtoNet off)")
    fc = cfg.fewshot
    encoder = load_frozen_encoder(fc.encoder, cfg.pretrain.feature_dim, cfg.seed)
    manifest, splits = load_modalities(data_path, "fewshot", ("frame", "ram"),
                                       keep_full=encoder.needs_full)
    log_dataset_input(data_path, manifest, context="fewshot")
    mlflow.set_tag("arcadelab.frame_encoder", encoder.source)
    # Labels may be low-entropy-filtered out of the view; read them from the RAM directly.
    idx = manifest.labels
    classes = plan.quadrants(splits["train"].ram, idx)
    mlflow.set_tag("arcadelab.fewshot_classes", f"{classes.obj} quadrant "
                   f"({classes.x_label}, {classes.y_label})")
    quad = {s: classes.classify(splits[s].ram[:, idx[classes.x_label]],
                                splits[s].ram[:, idx[classes.y_label]]) for s in SPLITS}
    check_shots(quad["train"][quad["train"] >= 0], fc.shots, QUADRANTS)
    if not (quad["test"] >= 0).any():
        raise FewShotError(f"the test split has no frame with the {classes.obj} in play to "
                           "classify")
    raw = [encoder.features(splits[s]) for s in SPLITS]
    feats = dict(zip(SPLITS, standardize(*raw), strict=True))

    jobs: dict[str, ray.ObjectRef] = {}
    base = [tertiles(splits["train"].ram[:, idx[n]], splits["train"].ram[:, idx[n]])
            for n in plan.base_tasks]
    if fc.meta_episodes and base:
        jobs["protonet"] = submit(meta_train_protonet, feats["train"], base, fc, cfg.seed)
    if fc.zero_shot:
        clip_data = {s: {"frame": feats[s], "ram": splits[s].ram} for s in SPLITS}
        clip_settings = ClipSettings(hidden=fc.hidden, epochs=fc.clip_epochs,
                                     batch_size=fc.batch_size, lr=fc.lr, seed=cfg.seed)
        jobs["clip"] = submit(train_clip, clip_data, False, clip_settings)
    trained = dict(zip(jobs, ray.get(list(jobs.values())), strict=True))

    embeds: dict[str, Callable[[np.ndarray], np.ndarray]] = {"frozen encoder": lambda x: x}
    if "protonet" in trained:
        net = trained["protonet"]
        embeds[f"ProtoNet (meta-trained on {plan.base_name} tertiles)"] = lambda x: predict(
            net, {"x": x}, call=lambda m, b: m(b["x"]))
    clip = trained["clip"][0] if "clip" in trained else None
    if clip is not None:
        embeds["frame-RAM CLIP frame tower"] = lambda x: predict(
            clip, {"x": x}, call=lambda m, b: torch.nn.functional.normalize(
                m.embed_frames(b["x"]), dim=1))
    tr, te = quad["train"] >= 0, quad["test"] >= 0
    rows = []
    for name, fn in embeds.items():
        for k in fc.shots:
            rng = np.random.default_rng([cfg.seed, k])
            acc, std = episode_accuracy(fn, feats["train"][tr], quad["train"][tr],
                                        feats["test"][te], quad["test"][te], k, fc.episodes,
                                        fc.queries, len(QUADRANTS), rng)
            rows.append({"embedding": name, "k": k, "accuracy": acc, "std": std,
                         "episodes": fc.episodes})
    curve = pd.DataFrame(rows)
    zero: dict[str, float] = {}
    if clip is not None:
        zero = _zero_shot(clip, feats["test"][te], quad["test"][te], splits["train"].ram,
                          classes, idx, fc.prompts, cfg.seed)
    _log(curve, zero, classes.obj)
    return FewshotResult(curve, zero, encoder.source)


def _zero_shot(clip: torch.nn.Module, frames: np.ndarray, y: np.ndarray, base_ram: np.ndarray,
               classes: Quadrants, idx: Mapping[str, int], prompts: int, seed: int
               ) -> dict[str, float]:
    rng = np.random.default_rng([seed, 7])
    per_class = class_prompts(classes, idx, base_ram, prompts, rng)
    pred = zero_shot_predict(clip, frames, class_embeddings(clip, per_class))
    counts = np.bincount(y, minlength=len(QUADRANTS))
    out = {"accuracy": float(np.mean(pred == y)), "chance": 1.0 / len(QUADRANTS),
           "majority_baseline": float(counts.max() / counts.sum()),
           "balanced_accuracy": float(np.mean([np.mean(pred[y == c] == c)
                                               for c in range(len(QUADRANTS)) if counts[c]])),
           "test_frames": float(len(y))}
    out |= {f"class_accuracy/{QUADRANTS[c]}": float(np.mean(pred[y == c] == c))
            for c in range(len(QUADRANTS)) if counts[c]}
    return out


def _log(curve: pd.DataFrame, zero: dict[str, float], obj: str) -> None:
    short = {n: n.split(" (")[0].replace(" ", "_").replace("-", "_") for n in curve.embedding}
    for r in curve.itertuples():
        log_metrics({f"fewshot/proto/{short[r.embedding]}/accuracy": r.accuracy,
                     f"fewshot/proto/{short[r.embedding]}/accuracy_std": r.std}, step=int(r.k))
    log_metrics({f"fewshot/zeroshot/{k}": v for k, v in zero.items()})
    log_table(curve, "fewshot", "few_shot_accuracy")
    series = {name: (list(g.k), list(g.accuracy), list(g["std"]))
              for name, g in curve.groupby("embedding", sort=False)}
    # Episodes draw the same number of queries per class: compare with balanced accuracy.
    ref = ((zero["balanced_accuracy"], "zero-shot (RAM prompts), balanced accuracy") if zero
           else (1 / len(QUADRANTS), "chance"))
    title = f"{obj.capitalize()} quadrant from k examples per class (prototypes)"
    log_png(lambda p: lines(series, p, title, "k labelled examples per class", "test accuracy",
                            logx=True, hline=ref), "fewshot", "few_shot_accuracy")
