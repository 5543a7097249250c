"""Transfer into the Pong policy, measured: scratch vs frozen vs fine-tuned pretrained encoder.

Three arms that differ only in where the encoder's weights start (and whether they train):
`scratch` (random init, the champion's architecture and size), `frozen` and `finetune` (the
registry's champion of the policy view). One pinned RL config for every arm; a greedy
evaluation of 10 episodes every 12 iterations (49,152 env steps) to a fixed budget, no early
stop. Each arm is its own `arcadelab rl` run, resumable, in its own work dir, all logging to
one MLflow store (the one pretraining registered the champion in).

Pretrain the champion into the store (the policy's view and architecture):

    .venv/bin/arcadelab run pretrain --work-dir .arcadelab/transfer \\
        --set pretrain.arch=small_cnn --set "pretrain.views=[stack84]"

Run one arm (an hour of a quiet 2-core machine; `--resume` continues a killed one):

    .venv/bin/python benchmarks/transfer.py run --store .arcadelab/transfer --mode finetune --seed 0

Read every arm into `benchmarks/results/transfer.csv` and the chart:

    .venv/bin/python benchmarks/transfer.py read --store .arcadelab/transfer \\
        --plot docs/img/transfer_curves.png
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities import Run
from results_io import (  # benchmarks/: the script dir
    append_and_read,
    evaluations,
    save_figure,
    stage_runs,
    store_client,
)

from pipelines.core.tracking import EXPERIMENT_KIND, git_sha
from pipelines.rl.experiments import holds_from, steps_to_return

MODES = ("scratch", "frozen", "finetune")
THRESHOLDS = (0.0, 10.0, 18.0)
TRAIN_BATCH = 4_096  # the laptop default, pinned below
EVAL_EVERY = 12  # iterations: 49,152 env steps


def pinned(mode: str, seed: int, steps: int, alias: str, arch: str, feature_dim: int,
           finetune_lr_scale: float = 1.0) -> list[str]:
    """The one RL config of the experiment, as `--set` overrides of the laptop preset."""
    return [f"seed={seed}", f"rl.transfer={mode}", f"rl.encoder_alias={alias}",
            f"rl.arch={arch}", f"rl.feature_dim={feature_dim}",
            f"rl.finetune_lr_scale={finetune_lr_scale}",
            f"rl.train_batch_size={TRAIN_BATCH}", "rl.num_epochs=4", "rl.minibatch_size=256",
            # A whole number of evaluation periods: the budget's end is evaluated too.
            f"rl.iterations={math.ceil(steps / TRAIN_BATCH / EVAL_EVERY) * EVAL_EVERY}",
            f"rl.evaluation_every={EVAL_EVERY}", "rl.evaluation_episodes=10",
            f"rl.checkpoint_every={EVAL_EVERY}", "rl.video_max_steps=0"]


def champion_spec(store: Path, alias: str) -> tuple[str, int]:
    """Architecture and feature size of the encoder behind the alias (scratch copies them)."""
    uri = f"sqlite:///{(store / 'mlflow.db').resolve()}"
    # models:/ URIs are resolved through the registry URI, which tracking_uri= does not set.
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/arcadelab-encoder@{alias}"))
    found = list(local.rglob("encoder.json"))
    if not found:
        raise SystemExit(f"models:/arcadelab-encoder@{alias} holds no encoder.json")
    spec = json.loads(found[0].read_text())
    return spec["arch"], int(spec["feature_dim"])


def run(args: argparse.Namespace) -> None:
    store = args.store.resolve()
    if args.arch:  # scratch before any champion exists: the architecture it will have
        if args.mode != "scratch":
            raise SystemExit("--arch is for the scratch arm; frozen and finetune use the "
                             "champion's")
        arch, dim = args.arch, args.feature_dim
    else:
        arch, dim = champion_spec(store, args.alias)
    lr_tag = "" if args.mode != "finetune" else f"-lr{args.finetune_lr_scale:g}"
    work = store / "arms" / f"{args.mode}{lr_tag}-s{args.seed}"
    work.mkdir(parents=True, exist_ok=True)
    cmd = [str(Path(sys.executable).parent / "arcadelab"), "rl", "--work-dir", str(work),
           "--mlflow-uri", f"sqlite:///{store / 'mlflow.db'}",
           *(x for s in pinned(args.mode, args.seed, args.steps, args.alias, arch, dim,
                               args.finetune_lr_scale)
             for x in ("--set", s))] + (["--resume"] if args.resume else [])
    print(" ".join(cmd), flush=True)
    raise SystemExit(subprocess.call(cmd))


def arm_name(mode: str, finetune_lr_scale: object) -> str:
    """finetune arms differ by the encoder's lr scale (0.1: session 6's first arm; 1.0: the
    pinned default since, so initialisation is the only difference from scratch)."""
    if mode != "finetune" or finetune_lr_scale is None or pd.isna(finetune_lr_scale):
        return mode
    return f"finetune (encoder lr x{float(finetune_lr_scale):g})"


def is_arm(run: Run) -> bool:
    """An `rl` run with this experiment's pinned evaluation and batch (see `pinned`)."""
    p = run.data.params
    return (p.get("rl.evaluation_every") == str(EVAL_EVERY)
            and p.get("rl.evaluation_episodes") == "10"
            and p.get("rl.train_batch_size") == str(TRAIN_BATCH))


def read_arms(store: Path) -> pd.DataFrame:
    """One row per evaluation of every arm's run in the store."""
    client = store_client(store)
    rows = []
    for r in reversed(stage_runs(client)):  # newest first: see the duplicates dropped below
        if not is_arm(r):
            continue  # not an arm of this experiment
        p = r.data.params
        for m in evaluations(client, r.info.run_id):
            rows.append({"mode": p["rl.transfer"], "seed": int(p["seed"]),
                         "arm": arm_name(p["rl.transfer"], p.get("rl.finetune_lr_scale")),
                         "finetune_lr_scale": float(p.get("rl.finetune_lr_scale", "nan")),
                         "env_steps": int(m.step), "eval_return": m.value,
                         "run_id": r.info.run_id, "status": r.info.status,
                         "config_hash": r.data.tags.get("arcadelab.config_hash"),
                         "git_sha": r.data.tags.get("arcadelab.git_sha"),
                         "encoder_version": r.data.tags.get("arcadelab.encoder_version", ""),
                         "arch": p.get("rl.arch")})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    # A resumed arm is a new run that re-evaluates the steps after its last checkpoint: the
    # newest run's value counts (its rows come first).
    # Arms against different champion versions are different curves, never merged.
    df = df.drop_duplicates(["arm", "seed", "encoder_version", "env_steps"], keep="first")
    return df.sort_values(["arm", "seed", "env_steps"])


def with_arm(df: pd.DataFrame) -> pd.DataFrame:
    """Rows written before the `arm` column get it from mode and lr scale."""
    scale = df["finetune_lr_scale"] if "finetune_lr_scale" in df else [None] * len(df)
    arms = [arm_name(m, f) for m, f in zip(df["mode"], scale, strict=True)]
    if "arm" in df:
        arms = [a if isinstance(a, str) else b for a, b in zip(df["arm"], arms, strict=True)]
    return df.assign(arm=arms)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (arm, seed), g in with_arm(df).groupby(["arm", "seed"]):
        s, v = g.env_steps.tolist(), g.eval_return.tolist()
        row = {"arm": arm, "seed": seed, "last_env_steps": s[-1], "last_return": v[-1]}
        for t in THRESHOLDS:
            row[f"steps_to_{t:+g}"] = steps_to_return(s, v, t)
        row["holds_+18_from"] = holds_from(s, v, 18.0)
        out.append(row)
    return pd.DataFrame(out)


def plot(df: pd.DataFrame, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    df = with_arm(df)
    arms = sorted(set(df["arm"]), key=lambda a: (MODES.index(a.split()[0]), a))
    for i, mode in enumerate(arms):
        sub = df[df["arm"] == mode]
        for _, g in sub.groupby("seed"):
            ax.plot(g.env_steps / 1e6, g.eval_return, color=f"C{i}", alpha=0.35, lw=1)
        mean = sub.groupby("env_steps").eval_return.mean()
        n = sub.seed.nunique()
        ax.plot(mean.index / 1e6, mean.values, "o-", ms=3, color=f"C{i}",
                label=f"{mode} (mean of {n} seed{'s' if n > 1 else ''})")
    for t in THRESHOLDS:
        ax.axhline(t, color="grey", ls=":", lw=0.8)
    ax.set(xlabel="env steps (millions)", ylabel="greedy evaluation return (10 episodes)",
           ylim=(-22, 22), title="PPO on Pong: encoder from scratch, frozen or fine-tuned")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    save_figure(fig, out)


def _slug(arm: str) -> str:
    """An arm as a metric-name part: `finetune (encoder lr x1)` -> `finetune_encoder_lr_x1`."""
    return re.sub(r"[^0-9A-Za-z_.-]+", "_", arm).strip("_")


def comparison_metrics(df: pd.DataFrame) -> dict[str, float]:
    """`transfer/<arm>/steps_to_return_<r>` on each arm's mean-over-seeds curve (and per seed
    `transfer/<arm>/s<seed>/...`), plus `holds_18_from`: the env steps from which every later
    evaluation is >= +18. A threshold never reached has no metric."""
    out: dict[str, float] = {}
    df = with_arm(df)
    for arm, sub in df.groupby("arm"):
        curves = {f"transfer/{_slug(arm)}/s{seed}": g for seed, g in sub.groupby("seed")}
        mean = sub.groupby("env_steps", as_index=False).eval_return.mean()
        curves[f"transfer/{_slug(arm)}"] = mean
        for key, g in curves.items():
            s, v = g.env_steps.tolist(), g.eval_return.tolist()
            found = {f"steps_to_return_{t:g}": steps_to_return(s, v, t) for t in THRESHOLDS}
            found["holds_18_from"] = holds_from(s, v, 18.0)
            out.update({f"{key}/{name}": float(x) for name, x in found.items() if x is not None})
    return out


COMPARISON_EXPERIMENT = "benchmarks/transfer"  # not `arcadelab/…`: status lists those as flows


def log_comparison(store: Path, df: pd.DataFrame, png: Path) -> str:
    """The overlaid chart, the rows and the steps-to-return metrics as one MLflow run in the
    store (experiment `benchmarks/transfer`, artifacts beside the arms'), one run per `read`."""
    client = store_client(store)
    exp = client.get_experiment_by_name(COMPARISON_EXPERIMENT)
    exp_id = exp.experiment_id if exp else client.create_experiment(
        COMPARISON_EXPERIMENT, artifact_location=(store / "mlartifacts").resolve().as_uri(),
        tags=EXPERIMENT_KIND)  # opens on its runs in the UI
    run = client.create_run(exp_id, run_name="scratch vs frozen vs finetune", tags={
        "arcadelab.git_sha": git_sha(),
        "arcadelab.arms": ", ".join(sorted(set(with_arm(df)["arm"])))})
    run_id = run.info.run_id
    for key, value in comparison_metrics(df).items():
        client.log_metric(run_id, key, value)
    client.log_artifact(run_id, str(png), "transfer")
    with tempfile.TemporaryDirectory() as tmp:
        rows = Path(tmp) / "transfer.csv"
        df.to_csv(rows, index=False)
        client.log_artifact(run_id, str(rows), "transfer")
    client.set_terminated(run_id)
    return run_id


def read(args: argparse.Namespace) -> None:
    df = read_arms(args.store)
    if df.empty:
        raise SystemExit(f"no transfer arm has evaluated yet in {args.store}")
    if not args.no_write:
        df = append_and_read("transfer", df.to_dict("records"), replace="run_id")
    print(summary(df).to_string(index=False))
    with tempfile.TemporaryDirectory() as tmp:
        png = args.plot or Path(tmp) / "transfer_curves.png"
        plot(df, png)
        if not args.no_write:
            run_id = log_comparison(args.store, df, png)
            print(f"chart and steps_to_return metrics: MLflow run {run_id} "
                  f"(experiment {COMPARISON_EXPERIMENT})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run (or --resume) one arm")
    r.add_argument("--store", type=Path, required=True)
    r.add_argument("--mode", choices=MODES, required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--steps", type=int, default=2_000_000)
    r.add_argument("--alias", default="champion")
    r.add_argument("--resume", action="store_true")
    r.add_argument("--finetune-lr-scale", type=float, default=1.0,
                   help="finetune: the encoder's lr = lr x this (1.0: initialisation is the "
                        "only difference from scratch)")
    r.add_argument("--arch", choices=["small_cnn", "nature_cnn"],
                   help="scratch only: the architecture without reading the champion's")
    r.add_argument("--feature-dim", type=int, default=256)
    r.set_defaults(fn=run)
    rd = sub.add_parser("read", help="evaluations of every arm -> transfer.csv (+ chart)")
    rd.add_argument("--store", type=Path, required=True)
    rd.add_argument("--plot", type=Path)
    rd.add_argument("--no-write", action="store_true")
    rd.set_defaults(fn=read)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
