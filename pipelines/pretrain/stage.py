"""The pretrain stage: for each view, pretrain every method on Ray Train, probe every encoder
(random init as the lower bound, each SSL method, a supervised upper bound) with AtariARI's
linear probes, draw the few-shot curves, and register the encoders with their lineage.

Runs inside the stage's MLflow run; each (view, encoder) gets a nested run of its own.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import ray
import torch
from torch import nn

from models.clip_loss import recall_at_k
from models.encoder import EncoderSpec, build_encoder
from pipelines.core import registry
from pipelines.core.config import ArcadeConfig
from pipelines.core.tracking import TAG_STAGE, log_metrics
from pipelines.data.dataset import DatasetError, verify
from pipelines.data.prep import log_dataset_input
from pipelines.data.splits import SPLITS
from pipelines.data.views import view_dataset, view_shape
from pipelines.features.extract import extract_features, split_features
from pipelines.features.probes import (
    MEAN_LABEL,
    few_shot_chart,
    few_shot_curve,
    probe_all,
    probe_bar_chart,
    probe_table_markdown,
    weighted_f1,
)
from pipelines.pretrain.train import PretrainResult, pretrain_methods

log = logging.getLogger("arcadelab")
POLICY_VIEW = "stack84"
HEADS = "supervised_heads"  # the supervised model's own predictions (AtariARI's ceiling)


@dataclass(frozen=True)
class PretrainStageResult:
    probes: pd.DataFrame  # encoder, view, label, f1, accuracy, val_f1, train_examples
    few_shot: pd.DataFrame  # encoder, view, size, label, f1
    frames_per_s: dict[str, float]  # "<view>/<method>" -> Ray Train frames/s
    registered: dict[str, str]  # alias -> registry version
    champion: str | None  # alias of the champion's method, e.g. "atc"

    def registered_versions(self) -> dict[str, str]:
        """Alias -> the encoder version this run registered under it."""
        return dict(self.registered)

    def describe(self) -> str:
        views = sorted(set(self.probes.view))
        means = "; ".join(f"{v}: " + ", ".join(f"{k} {f:.3f}" for k, f in self.mean_f1(v).items())
                          for v in views)
        return f"mean probe F1 {means}; champion {self.champion}"

    def mean_f1(self, view: str) -> dict[str, float]:
        rows = self.probes[(self.probes.view == view) & (self.probes.label == "mean")]
        return dict(zip(rows.encoder, rows.f1, strict=True))



def clip_retrieval(result: PretrainResult, test: ray.data.Dataset) -> dict[str, float]:
    """Recall@1/@5 of frame->RAM and RAM->frame retrieval over the whole test split."""
    clip = result.objective.model
    frames, rams = [], []
    with torch.no_grad():
        for batch in test.iter_batches(batch_size=256, batch_format="numpy"):
            frames.append(clip.embed_frames(torch.as_tensor(batch["obs"])))
            rams.append(clip.embed_ram(torch.as_tensor(batch["ram"])))
    f, r = torch.cat(frames), torch.cat(rams)
    out = {f"frame_to_ram_recall_at_{k}": v for k, v in recall_at_k(f, r, (1, 5)).items()}
    out |= {f"ram_to_frame_recall_at_{k}": v for k, v in recall_at_k(r, f, (1, 5)).items()}
    out["test_pairs"] = float(len(f))
    return out


def run_pretrain_stage(cfg: ArcadeConfig, data_path: Path, flow_tags: dict[str, str]
                       ) -> PretrainStageResult:
    manifest = verify(data_path)
    for split in SPLITS:
        if manifest.splits[split]["rows"] == 0:
            raise DatasetError(f"dataset {data_path} has an empty {split} split: collect more "
                               "episodes (data.num_tasks, data.steps_per_task, "
                               "data.max_episode_steps)")
    labels = manifest.usable_labels
    if not labels:
        raise DatasetError(f"dataset {data_path} has no usable RAM labels for probes "
                           f"(annotated: {list(manifest.labels) or 'none'}; low entropy: "
                           f"{list(manifest.low_entropy_labels)})")
    p, pr = cfg.pretrain, cfg.probe
    uri = mlflow.get_tracking_uri()
    stage_run = mlflow.active_run()
    if stage_run is None:
        raise RuntimeError("run_pretrain_stage must run inside the stage's MLflow run")
    experiment = stage_run.info.experiment_id  # nested runs do not inherit it by themselves
    lineage = {"arcadelab.dataset": manifest.name, "arcadelab.dataset_digest": manifest.digest()}
    log_dataset_input(data_path, manifest, context="pretrain")
    probe_kwargs = {"epochs": pr.epochs, "lr": pr.lr, "batch_size": pr.batch_size,
                    "patience": pr.patience, "seed": cfg.seed}
    probe_rows, few_rows = [], []
    speeds: dict[str, float] = {}
    registered: dict[str, str] = {}
    methods = list(p.methods) + (["supervised"] if p.supervised_baseline else [])
    for view in p.views:
        c, h, w = view_shape(view)
        spec = EncoderSpec(arch=p.arch, in_channels=c, height=h, width=w,
                           feature_dim=p.feature_dim)
        log.info("pretrain: building the %s view of %s", view, manifest.name)
        # Every split carries the temporal partner: validation losses of ATC and ST-DIM need it.
        data = {s: view_dataset(data_path, s, view, labels, cfg.pretrain.atc_k,
                                cfg.seed if s == "train" else None) for s in SPLITS}
        # Held-out frames for the reconstruction grids, spread out rather than consecutive.
        preview = data["test"].take_batch(256, batch_format="numpy")["obs"][::32][:8]
        torch.manual_seed(cfg.seed)
        encoders: dict[str, nn.Module] = {"random": build_encoder(spec)}
        versions: dict[str, str | None] = {}
        tags = {name: {**flow_tags, TAG_STAGE: "pretrain", "arcadelab.method": name,
                       "arcadelab.view": view, **lineage} for name in ["random", *methods]}
        # One nested run per method, made before the one Ray Train run that trains them all
        # (its workers log each method's epochs there); probes and the registry follow.
        run_ids = _method_runs(experiment, stage_run.info.run_id, view, methods, tags)
        log.info("pretrain: %s on %s (one Ray Train run, %d worker(s), <= %d epochs each)",
                 ", ".join(methods), view, p.num_workers, p.epochs)
        with _failed_on_error(run_ids):
            trained = pretrain_methods(cfg, methods, view, spec, data["train"], len(labels),
                                       run_ids, uri, preview, val=data["val"])
        for name in ["random", *methods]:
            opened = (mlflow.start_run(run_id=run_ids[name], nested=True) if name in run_ids
                      else mlflow.start_run(run_name=f"{name}-{view}", nested=True,
                                            tags=tags[name], experiment_id=experiment))
            with _failed_on_error(run_ids), opened as run:
                if name != "random":
                    res = trained[name]
                    encoders[name] = res.objective.encoder
                    speeds[f"{view}/{name}"] = res.frames_per_s
                    log_metrics({f"pretrain/{view}/{name}/train_time_s": res.train_time_s,
                                 f"pretrain/{view}/{name}/final_loss": res.final_loss,
                                 f"pretrain/{view}/{name}/best_epoch": res.epoch,
                                 f"pretrain/{view}/{name}/best_val_loss": res.val_loss})
                    if name == "clip":
                        log_metrics({f"pretrain/{view}/clip/{k}": v
                                     for k, v in clip_retrieval(res, data["test"]).items()})
                table, few = _probe(encoders[name], data, labels, pr.few_shot_sizes,
                                    probe_kwargs)
                if name == "supervised":
                    heads = head_scores(res.objective.model, data, labels)
                    log_metrics({f"probe/{view}/{HEADS}/f1/{r.label}": r.f1
                                 for r in heads.itertuples()}
                                | {f"probe/{view}/{HEADS}/mean_f1": heads.f1.iloc[-1]})
                    probe_rows.append(heads.assign(encoder=HEADS, view=view))
                mean = float(table.loc[table.label == "mean", "f1"].iloc[0])
                log_metrics({f"probe/{view}/{name}/f1/{r.label}": r.f1
                             for r in table.itertuples()} | {f"probe/{view}/{name}/mean_f1": mean})
                for r in few[few.label == "mean"].itertuples():
                    log_metrics({f"fewshot/{view}/{name}/mean_f1": r.f1}, step=int(r.size))
                probe_rows.append(table.assign(encoder=name, view=view))
                few_rows.append(few.assign(encoder=name, view=view))
                log.info("probe: %s on %s: mean F1 %.3f", name, view, mean)
                if name != "random":
                    versions[name] = registry.log_encoder(
                        encoders[name], spec, "encoder",
                        {**lineage, "arcadelab.method": name, "arcadelab.view": view,
                         "arcadelab.probe_mean_f1": f"{mean:.4f}",
                         "arcadelab.run_id": run.info.run_id},
                        register=p.register_models)
        _log_view_report(view, pd.concat(probe_rows), pd.concat(few_rows))
        for name, version in versions.items():
            if version is not None:
                for alias in ([f"{name}-{view}"] + ([name] if view == POLICY_VIEW else [])):
                    registry.set_alias(alias, version)
                    registered[alias] = version
    probes, few_shot = pd.concat(probe_rows), pd.concat(few_rows)
    champion = _crown(probes, registered, p.views)
    log_metrics({f"pretrain/frames_per_s/{k}": v for k, v in speeds.items()})
    return PretrainStageResult(probes, few_shot, speeds, registered, champion)


def _method_runs(experiment: str, parent: str, view: str, methods: list[str],
                 tags: dict[str, dict[str, str]]) -> dict[str, str]:
    """A nested MLflow run per method (running until its probes are logged)."""
    client = mlflow.MlflowClient()
    return {name: client.create_run(experiment, run_name=f"{name}-{view}", tags={
        **tags[name], "mlflow.parentRunId": parent}).info.run_id for name in methods}


@contextlib.contextmanager
def _failed_on_error(run_ids: dict[str, str]) -> Iterator[None]:
    """On an error, every method run still open is marked FAILED, never left RUNNING."""
    try:
        yield
    except BaseException:
        client = mlflow.MlflowClient()
        for run_id in run_ids.values():
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_terminated(run_id, "FAILED")
        raise


def head_scores(model: nn.Module, data: dict[str, ray.data.Dataset], labels: list[str]
                ) -> pd.DataFrame:
    """The supervised model's own heads scored like a probe (test F1, val F1 per label):
    AtariARI's ceiling is the end-to-end model's own prediction, while the `supervised` row
    re-probes its frozen features with a fresh probe fitted on the very frames the encoder
    memorised, which nothing bounds from below (docs/pretraining.md)."""
    preds, ys = {}, {}
    for split in ("val", "test"):
        logits, y = extract_features(model, data[split])  # (N, labels, 256) logits
        preds[split], ys[split] = logits.argmax(axis=-1), y
    rows = [{"label": n, "f1": weighted_f1(ys["test"][:, i], preds["test"][:, i]),
             "accuracy": float(np.mean(ys["test"][:, i] == preds["test"][:, i])),
             "val_f1": weighted_f1(ys["val"][:, i], preds["val"][:, i]),
             "train_examples": None} for i, n in enumerate(labels)]
    rows.append({"label": MEAN_LABEL, "f1": float(np.mean([r["f1"] for r in rows])),
                 "accuracy": float(np.mean([r["accuracy"] for r in rows])),
                 "val_f1": float(np.mean([r["val_f1"] for r in rows])),
                 "train_examples": None})
    return pd.DataFrame(rows)


def _probe(encoder: nn.Module, data: dict[str, ray.data.Dataset], labels: list[str],
           sizes: tuple[int | None, ...], kwargs: dict[str, float]
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    feats, ys = split_features(encoder, data, labels)
    table = probe_all(feats, ys, label_names=labels, **kwargs)
    few = few_shot_curve(feats, ys, label_names=labels, sizes=list(sizes), **kwargs)
    return table, few


def _log_view_report(view: str, probes: pd.DataFrame, few: pd.DataFrame) -> None:
    """The side-by-side table (CSV + markdown), bar chart and few-shot curve of one view."""
    probes = probes[probes.view == view]
    few = few[(few.view == view) & (few.label == "mean")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        cols = ["encoder", "label", "f1", "accuracy", "val_f1", "train_examples"]
        probes[cols].to_csv(out / "probes.csv", index=False)
        (out / "probes.md").write_text(probe_table_markdown(probes[cols]))
        probe_bar_chart(probes[["encoder", "label", "f1"]], out / "probe_f1.png",
                        f"Linear-probe F1 per RAM variable ({view} view)")
        few[["encoder", "size", "f1"]].to_csv(out / "few_shot.csv", index=False)
        few_shot_chart(few[["encoder", "size", "f1"]], out / "few_shot.png",
                       f"Few-shot probe F1 vs labelled examples ({view} view)")
        mlflow.log_artifacts(str(out), f"probe/{view}")


def _crown(probes: pd.DataFrame, registered: dict[str, str], views: tuple[str, ...]
           ) -> str | None:
    """Move `champion` to the self-supervised encoder with the best mean probe F1 in the
    policy's view (the view downstream RL uses; the first view if that one was not run)."""
    view = POLICY_VIEW if POLICY_VIEW in views else views[0]
    means = probes[(probes.view == view) & (probes.label == "mean")
                   & ~probes.encoder.isin(["random", "supervised", HEADS])]
    if means.empty:
        return None
    best = str(means.sort_values("f1", ascending=False).encoder.iloc[0])
    alias = f"{best}-{view}"
    if alias in registered:
        registry.set_alias("champion", registered[alias])
        registered["champion"] = registered[alias]
    best_f1 = float(means.f1.max())
    log_metrics({"pretrain/champion_mean_f1": best_f1})
    mlflow.set_tag("arcadelab.champion", alias)
    log.info("pretrain: champion is %s (mean probe F1 %.3f)", alias, best_f1)
    return best
