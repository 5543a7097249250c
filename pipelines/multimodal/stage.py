"""The multimodal stage: screen, sound and RAM of each step, six experiments side by side.

fusion (unimodal, bimodal, trimodal x early / late / sum / product / tensor / low-rank),
bimodal audio-visual autoencoder, audio-visual alignment, translation (frame -> RAM,
RAM -> frame), coordinated retrieval (frame-RAM CLIP with and without a sound tower), and
co-learning (RAM as privileged information). Every model trains in its own Ray task; this
module loads the data once, submits the tasks, and logs what comes back to the stage's
MLflow run under `mm/…`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import ray

from pipelines.core.charts import grouped_bars, log_png, log_table
from pipelines.core.config import ArcadeConfig
from pipelines.core.torch_fit import submit
from pipelines.core.tracking import log_metrics
from pipelines.data.modalities import load_modalities
from pipelines.data.prep import log_dataset_input
from pipelines.features.frozen import load_frozen_encoder
from pipelines.multimodal.alignment import alignment_arrays, alignment_picture, train_alignment
from pipelines.multimodal.autoencoder import ae_arrays, train_bimodal_ae
from pipelines.multimodal.colearning import train_colearning
from pipelines.multimodal.fusion import fusion_grid, fusion_table, run_fusion
from pipelines.multimodal.inputs import event_arrays, prepare_inputs
from pipelines.multimodal.retrieval import retrieval_arrays, train_retrieval
from pipelines.multimodal.translation import (
    frame_to_ram_arrays,
    ram_to_frame_arrays,
    train_frame_to_ram,
    train_ram_to_frame,
)

log = logging.getLogger("arcadelab")


@dataclass(frozen=True)
class MultimodalResult:
    encoder: str  # the frozen frame encoder's source
    fusion: pd.DataFrame | None  # subset, modalities, method, f1, accuracy, ...
    colearning: pd.DataFrame | None  # model, f1, accuracy, ...
    metrics: dict[str, float] = field(default_factory=dict)  # everything under mm/

    def describe(self) -> str:
        parts = []
        if self.fusion is not None:
            best = {n: self.fusion[self.fusion.modalities == n].macro_f1.max()
                    for n in (1, 2, 3)}
            parts.append("event macro-F1 best uni/bi/trimodal "
                         + "/".join(f"{best[n]:.3f}" for n in (1, 2, 3)))
        for key, label in (("mm/alignment/accuracy", "alignment acc"),
                           ("mm/retrieval/3tower/frame_to_ram_recall_at_1", "frame->RAM R@1"),
                           ("mm/translation/frame_to_ram/mean_r2", "frame->RAM R2")):
            if key in self.metrics:
                parts.append(f"{label} {self.metrics[key]:.3f}")
        return "; ".join(parts) + f" (frame encoder: {self.encoder})"


def run_multimodal_stage(cfg: ArcadeConfig, data_path: Path) -> MultimodalResult:
    """Runs inside the stage's MLflow run."""
    if mlflow.active_run() is None:
        raise RuntimeError("run_multimodal_stage must run inside the stage's MLflow run")
    mc = cfg.multimodal
    encoder = load_frozen_encoder(mc.encoder, cfg.pretrain.feature_dim, cfg.seed)
    manifest, splits = load_modalities(data_path, "multimodal", ("frame", "ram", "sound"),
                                       labels=None, keep_full=encoder.needs_full)
    log_dataset_input(data_path, manifest, context="multimodal")
    mlflow.set_tag("arcadelab.frame_encoder", encoder.source)
    log.info("multimodal: frame features from %s", encoder.source)
    inp = prepare_inputs(encoder, splits)
    # Inputs that can be refused (too few sound onsets) are built before any task starts.
    align = alignment_arrays(inp, mc.align_window) if "alignment" in mc.parts else None
    refs: dict[str, Any] = {}
    if "fusion" in mc.parts or "colearning" in mc.parts:
        events = ray.put(event_arrays(inp, mc.horizon))
        if "fusion" in mc.parts:
            refs["fusion"] = run_fusion(events, mc, cfg.seed)
        if "colearning" in mc.parts:
            refs["colearning"] = submit(train_colearning, events, mc, cfg.seed)
    if "autoencoder" in mc.parts:
        refs["autoencoder"] = submit(train_bimodal_ae, ae_arrays(splits), mc, cfg.seed)
    if align is not None:
        refs["alignment"] = submit(train_alignment, align, mc, cfg.seed)
    if "translation" in mc.parts:
        if inp.labels:
            refs["frame_to_ram"] = submit(train_frame_to_ram, frame_to_ram_arrays(inp),
                                          inp.labels, mc, cfg.seed)
        refs["ram_to_frame"] = submit(train_ram_to_frame, ram_to_frame_arrays(inp), mc,
                                      cfg.seed)
    if "retrieval" in mc.parts:
        data = ray.put(retrieval_arrays(inp))
        refs["retrieval"] = [submit(train_retrieval, data, audio, mc, cfg.seed)
                             for audio in (False, True)]
    log.info("multimodal: %d Ray tasks submitted",
             sum(len(v) if isinstance(v, list) else 1 for v in refs.values()))

    metrics: dict[str, float] = {}
    fusion = colearning = None
    if "fusion" in refs:
        fusion = fusion_table(ray.get(refs["fusion"]))
        metrics |= _log_fusion(fusion)
    if "colearning" in refs:
        rows = ray.get(refs["colearning"])["rows"]
        cols = ("macro_f1", "f1", "accuracy", "val_macro_f1", "train_time_s")
        colearning = pd.DataFrame([{"model": k, **{c: v[c] for c in cols}}
                                   for k, v in rows.items()])
        keys = {"teacher (RAM)": "teacher_ram", "frame only": "frame_only",
                "frame + RAM teacher": "frame_distilled"}
        metrics |= {f"mm/colearning/{keys[r.model]}/{c}": getattr(r, c)
                    for r in colearning.itertuples() for c in ("macro_f1", "f1", "accuracy")}
        log_table(colearning, "mm/colearning", "colearning")
    if "autoencoder" in refs:
        out = ray.get(refs["autoencoder"])
        metrics |= {f"mm/autoencoder/{k}": v for k, v in out["metrics"].items()}
        mlflow.log_image(out["grid"], "mm/autoencoder/frame_both_video_audio.png")
    if align is not None:
        out = ray.get(refs["alignment"])
        metrics |= {f"mm/alignment/{k}": v for k, v in out["metrics"].items()}
        mlflow.log_image(alignment_picture(splits["test"].frames, align["test"]["rows"],
                                           out["probs"]), "mm/alignment/examples.png")
    if "frame_to_ram" in refs:
        out = ray.get(refs["frame_to_ram"])
        metrics |= {f"mm/translation/frame_to_ram/{k}": v for k, v in out["metrics"].items()}
    if "ram_to_frame" in refs:
        out = ray.get(refs["ram_to_frame"])
        metrics |= {f"mm/translation/ram_to_frame/{k}": v for k, v in out["metrics"].items()}
        mlflow.log_image(out["grid"], "mm/translation/ram_to_frame.png")
    if "retrieval" in refs:
        for out in ray.get(refs["retrieval"]):
            metrics |= {f"mm/retrieval/{out['towers']}tower/{k}": v
                        for k, v in out["metrics"].items()}
    log_metrics(metrics)
    return MultimodalResult(encoder.source, fusion, colearning, metrics)


def _log_fusion(table: pd.DataFrame) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for r in table.itertuples():
        key = f"mm/fusion/{r.subset.replace('+', '')}/{r.method}"
        metrics |= {f"{key}/macro_f1": r.macro_f1, f"{key}/f1": r.f1,
                    f"{key}/accuracy": r.accuracy}
    for n, name in ((1, "unimodal"), (2, "bimodal"), (3, "trimodal")):
        metrics[f"mm/fusion/best_{name}_macro_f1"] = float(
            table[table.modalities == n].macro_f1.max())
    metrics["mm/fusion/positive_rate"] = float(table.positive_rate.iloc[0])
    log_table(table, "mm/fusion", "fusion")
    grid = fusion_grid(table)
    log_table(grid.reset_index(), "mm/fusion", "fusion_grid_f1")
    log_png(lambda p: grouped_bars(grid, p, "Event within k steps: test macro-F1 by "
                                   "modalities and fusion", "test macro-F1"), "mm/fusion",
            "fusion_f1")
    return metrics
