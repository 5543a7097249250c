"""AtariARI's fully supervised ceiling, per variable, beside the frozen-encoder probes.

For every usable RAM label of a dataset: a fresh encoder + linear probe trained end to end on
that label, early-stopped on validation F1, scored on test
(`pipelines/pretrain/supervised_probe.py`, the paper's `fully_supervised` probe). Rows go to
`benchmarks/results/probes.csv` as encoder `supervised_per_variable`, protocol `policy_view`
(4x84x84 stack) or `atariari` (full frame), beside the pretrain stage's rows for the same dataset.

    .venv/bin/python benchmarks/supervised_baseline.py \\
        --dataset .arcadelab/probe/datasets/<name> --view stack84 --arch nature_cnn

One training per label: on 2 cores the laptop dataset (~15k train frames) takes a few minutes
per label on the 84x84 stack and about five times that on full frames.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from probe_ablation import complete, load, view_obs  # benchmarks/ is the script dir, on sys.path
from results_io import append_rows

from models.encoder import EncoderSpec
from pipelines.core.config import config_digest
from pipelines.data.dataset import load_manifest
from pipelines.data.splits import SPLITS
from pipelines.pretrain.supervised_probe import fit_supervised_probe

PROTOCOL = {"full": "atariari", "stack84": "policy_view"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--view", choices=sorted(PROTOCOL), default="stack84")
    ap.add_argument("--arch", choices=["nature_cnn", "small_cnn"], default="nature_cnn")
    ap.add_argument("--feature-dim", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--labels", nargs="*", help="only these labels (default: every usable one)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    manifest = load_manifest(args.dataset)
    usable = [n for n in manifest.labels if n not in manifest.low_entropy_labels]
    unknown = sorted(set(args.labels or []) - set(usable))
    if unknown:
        raise SystemExit(f"not usable labels of {manifest.name}: {unknown} (usable: {usable})")
    labels = args.labels or usable
    data = load(args.dataset, labels)
    # Only stacks of consecutive steps, as the pretrain stage's views (pipelines.data.views).
    keep = {s: complete(data[s], args.view) for s in SPLITS}
    obs = {s: view_obs(data[s], args.view)[keep[s]] for s in SPLITS}
    c, h, w = obs["train"].shape[1:]
    spec = EncoderSpec(arch=args.arch, in_channels=c, height=h, width=w,
                       feature_dim=args.feature_dim)
    hp = {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
          "patience": args.patience}
    common = {"game": manifest.game, "n_train": len(obs["train"]),
              "protocol": PROTOCOL[args.view], "encoder": "supervised_per_variable",
              "ablation": "", "arch": args.arch, "encoder_seed": args.seed}
    rows, f1s = [], {}
    for name in labels:
        t0 = time.perf_counter()
        r = fit_supervised_probe(obs, {s: data[s].labels[name][keep[s]] for s in SPLITS},
                                 label=name, spec=spec, seed=args.seed, **hp)
        f1s[name] = r.f1
        print(f"{name:14s} test F1 {r.f1:.3f}  val F1 {r.val_f1:.3f}  {r.epochs_run} epochs "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        rows.append({**common, "variable": name, "f1": r.f1, "val_f1": r.val_f1,
                     "epochs_run": r.epochs_run})
    mean = float(np.mean(list(f1s.values())))
    rows.append({**common, "variable": "mean", "f1": mean})
    print(f"mean test F1 {mean:.3f}")
    if not args.no_write:
        # As in probe_ablation.py: the file's seed column is the data's seed.
        path = append_rows("probes", rows, seed=int(manifest.config.get("seed", 0)),
                           config_hash=config_digest({"dataset": manifest.name,
                                                      "view": args.view, "arch": args.arch,
                                                      **hp}))
        print(f"wrote {len(rows)} rows to {path}")


if __name__ == "__main__":
    main()
