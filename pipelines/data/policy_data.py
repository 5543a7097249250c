"""The `policy_data` stage: frames the trained policy plays, and the distribution-shift test.

Encoders and probes learn from random-policy frames, but an agent that plays well sees other
states: long rallies, its paddle meeting the ball, scores a random agent never reaches. This
stage collects a dataset with the registered policy as the behaviour policy (`data.policy`),
then fits every encoder's linear probes on the random-policy train split (early-stopped on its
validation split, exactly as the pretrain stage does) and scores them twice: on the random
test split (in distribution) and on the policy's frames (shifted). A representation that
captures the game's state, not the random agent's habits, keeps its F1 under the shift.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import ray
import torch
from torch import nn

from models.encoder import EncoderSpec, build_encoder
from pipelines.core import registry
from pipelines.core.config import ArcadeConfig, with_section
from pipelines.core.tracking import log_metrics
from pipelines.data.dataset import DatasetError, read_split, verify
from pipelines.data.prep import RANDOM_POLICY, DataResult, log_dataset_input, prepare_data
from pipelines.data.splits import SPLITS
from pipelines.data.views import view_dataset, view_shape
from pipelines.features.extract import split_features
from pipelines.features.probes import probe_all, probe_bar_chart, probe_table_markdown
from pipelines.pretrain.stage import POLICY_VIEW

log = logging.getLogger("arcadelab")
PREFIX = "probe/shift"
DEFAULT_POLICY = "current"


@dataclass(frozen=True)
class PolicyDataResult:
    data: DataResult  # the dataset the policy played
    policy_version: str
    probes: pd.DataFrame  # encoder, label, f1_in_distribution, f1_shift

    def describe(self) -> str:
        means = self.probes[self.probes.label == "mean"]
        return (f"{self.data.manifest.rows} frames played by arcadelab-policy v"
                f"{self.policy_version}; shift-test mean F1 " + ", ".join(
                    f"{r.encoder} {r.f1_shift:.3f}" for r in means.itertuples()))


def behaviour_ref(cfg: ArcadeConfig, trained_version: str | None) -> str:
    """The policy to collect with: the version this pipeline's rl stage registered, else the
    config's `data.policy`, else the `current` alias."""
    if trained_version is not None:
        return trained_version
    return cfg.data.policy if cfg.data.policy != RANDOM_POLICY else DEFAULT_POLICY


def shift_encoders(cfg: ArcadeConfig, registered: dict[str, str] | None
                   ) -> dict[str, str | None]:
    """Encoder name -> registry version (None: seeded random init) for the policy view.

    `registered` (alias -> version, from this pipeline's pretrain stage) wins; run alone, each
    method's alias is resolved now and missing ones are skipped with a warning."""
    out: dict[str, str | None] = {"random": None}
    for method in (*cfg.pretrain.methods, "supervised"):
        if registered is not None:
            if method in registered:
                out[method] = registered[method]
            continue
        try:
            out[method] = registry.resolve(method)[0]
        except registry.RegistryError:
            log.warning("policy_data: no arcadelab-encoder@%s registered; skipped", method)
    return out


def _encoder(version: str | None, spec: EncoderSpec, seed: int) -> nn.Module:
    if version is None:
        torch.manual_seed(seed)
        return build_encoder(spec)
    return registry.load_registered_encoder(version, expected=spec)[0]


def _unseen_rows(played: ray.data.Dataset, seen: set[str]) -> np.ndarray:
    """Indices of the played rows whose frame never occurs in the probes' training data
    (reset and serve frames repeat across datasets; AtariARI drops such test frames too)."""
    hashes = np.concatenate([b["frame_hash"] for b in played.iter_batches(
        batch_size=4096, batch_format="numpy")])
    return np.flatnonzero([h not in seen for h in hashes])


def _is_random(path: Path) -> bool:
    """An intact random-policy dataset at `path`."""
    try:
        return verify(path).extra.get("behaviour_policy", RANDOM_POLICY) == RANDOM_POLICY
    except DatasetError:
        return False


def run_policy_data_stage(cfg: ArcadeConfig, random_data: Path,
                          trained_version: str | None = None,
                          registered: dict[str, str] | None = None) -> PolicyDataResult:
    """Collect with the policy, then the shift test; logs to the active MLflow run."""
    ref = behaviour_ref(cfg, trained_version)
    version = registry.resolve(ref, registry.POLICY_MODEL)[0]  # once: the alias may move
    # The probes learn from random-policy frames, whatever data.policy says: that dataset
    # first (reused when intact, collected when missing), so nothing is collected in vain and
    # the played dataset's data/ metrics and manifest, logged last, are the run's.
    if not _is_random(random_data):
        random_data = prepare_data(with_section(cfg, "data", policy=RANDOM_POLICY)).path
    base = verify(random_data)
    played = prepare_data(with_section(cfg, "data", policy=version))
    log_dataset_input(random_data, base, context="probe_train")
    log_dataset_input(played.path, played.manifest, context="shift_test")
    mlflow.set_tags({"arcadelab.behaviour_policy_version": version})
    labels = base.usable_labels
    c, h, w = view_shape(POLICY_VIEW)
    spec = EncoderSpec(arch=cfg.pretrain.arch, in_channels=c, height=h, width=w,
                       feature_dim=cfg.pretrain.feature_dim)
    sets = {s: view_dataset(random_data, s, POLICY_VIEW, labels) for s in SPLITS}
    shifted = [view_dataset(played.path, s, POLICY_VIEW, labels, frame_hashes=True)
               for s in SPLITS if played.manifest.splits[s]["rows"]]
    sets["shift"] = (shifted[0].union(*shifted[1:]) if len(shifted) > 1 else shifted[0]
                     ).materialize()
    seen = set(read_split(random_data, "train", ["frame_hash"]).column("frame_hash")
               .to_pylist())
    keep = _unseen_rows(sets["shift"], seen)
    log_metrics({f"{PREFIX}/frames": len(keep),
                 f"{PREFIX}/dropped_seen_frames": sets["shift"].count() - len(keep)})
    pr = cfg.probe
    kwargs: dict[str, Any] = {"epochs": pr.epochs, "lr": pr.lr, "batch_size": pr.batch_size,
                              "patience": pr.patience, "seed": cfg.seed}
    rows = []
    for name, enc_version in shift_encoders(cfg, registered).items():
        x, ys = split_features(_encoder(enc_version, spec, cfg.seed), sets, labels)
        x["shift"] = x["shift"][keep]
        ys["shift"] = {n: v[keep] for n, v in ys["shift"].items()}
        # The same train/val/seed fit the same probe, scored on each test set in turn.
        inside = probe_all({s: x[s] for s in SPLITS}, {s: ys[s] for s in SPLITS},
                           label_names=labels, **kwargs)
        shift = probe_all({"train": x["train"], "val": x["val"], "test": x["shift"]},
                          {"train": ys["train"], "val": ys["val"], "test": ys["shift"]},
                          label_names=labels, **kwargs)
        table = pd.DataFrame({"encoder": name, "label": inside.label,
                              "f1_in_distribution": inside.f1, "f1_shift": shift.f1})
        rows.append(table)
        mean = table[table.label == "mean"].iloc[0]
        log_metrics({f"{PREFIX}/{name}/mean_f1": mean.f1_shift,
                     f"{PREFIX}/{name}/in_distribution_mean_f1": mean.f1_in_distribution}
                    | {f"{PREFIX}/{name}/f1/{r.label}": r.f1_shift for r in table.itertuples()})
        log.info("policy_data: %s: mean F1 %.3f in distribution, %.3f on the policy's frames",
                 name, mean.f1_in_distribution, mean.f1_shift)
    probes = pd.concat(rows, ignore_index=True)
    _report(probes, version)
    return PolicyDataResult(played, version, probes)


def _report(probes: pd.DataFrame, version: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        probes.to_csv(out / "shift.csv", index=False)
        (out / "shift.md").write_text(probe_table_markdown(probes))
        probe_bar_chart(probes.rename(columns={"f1_shift": "f1"})[["encoder", "label", "f1"]],
                        out / "shift_f1.png",
                        f"Probes fitted on random-policy frames, scored on policy v{version}'s")
        mlflow.log_artifacts(str(out), PREFIX)
