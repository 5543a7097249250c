"""Probe tables of a work dir's MLflow store -> rows of `benchmarks/results/probes.csv`.

The pretrain stage logs, per view, a probe table (`probe/<view>/probes.csv`) and few-shot
curves (`probe/<view>/few_shot.csv`); the policy_data stage logs the shift test
(`probe/shift/shift.csv`). This reader turns the latest of each into result rows:
protocol `atariari` (full 210x160 frames), `policy_view` (the 4x84x84 stack), `fewshot_<k>`
(policy view, k labelled frames) and `shift` (probes fitted on random-policy frames, scored on
the trained policy's), with the run's config hash and git sha.

    .venv/bin/python benchmarks/probe_results.py --work-dir .arcadelab/probe
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from results_io import append_rows  # benchmarks/ is the script dir, on sys.path

PROTOCOL = {"full": "atariari", "stack84": "policy_view"}


def latest(client: MlflowClient, stage: str) -> Run | None:
    """The newest finished stage run that computed its tables (not a per-method child run,
    not a cached reuse that only points at another run)."""
    runs = [r for e in client.search_experiments()
            for r in client.search_runs([e.experiment_id], f"tags.`arcadelab.stage` = '{stage}'"
                                        " and attributes.status = 'FINISHED'")
            if "arcadelab.method" not in r.data.tags
            and r.data.tags.get("arcadelab.cached") != "true"]
    return max(runs, key=lambda r: r.info.start_time) if runs else None


def _csv(client: MlflowClient, run: Run, path: str, tmp: str) -> pd.DataFrame | None:
    names = {a.path for a in client.list_artifacts(run.info.run_id, str(Path(path).parent))}
    if path not in names:
        return None
    return pd.read_csv(client.download_artifacts(run.info.run_id, path, tmp))


def rows_of(client: MlflowClient, game: str, tmp: str, ablation: str = "") -> list[dict]:
    rows: list[dict] = []
    for stage in ("pretrain", "policy_data"):
        run = latest(client, stage)
        if run is None:
            continue
        stamp = {"game": game, "run_id": run.info.run_id, "ablation": ablation,
                 "seed": int(run.data.params.get("seed", 0)),
                 "config_hash": run.data.tags.get("arcadelab.config_hash"),
                 "git_sha": run.data.tags.get("arcadelab.git_sha"),
                 "n_train": None}
        if stage == "policy_data":
            shift = _csv(client, run, "probe/shift/shift.csv", tmp)
            if shift is not None:
                rows += [{**stamp, "protocol": "shift", "encoder": r.encoder,
                          "variable": r.label, "f1": r.f1_shift} for r in shift.itertuples()]
            continue
        for view, protocol in PROTOCOL.items():
            table = _csv(client, run, f"probe/{view}/probes.csv", tmp)
            if table is None:
                continue
            rows += [{**stamp, "protocol": protocol, "encoder": r.encoder, "variable": r.label,
                      "f1": r.f1, "n_train": r.train_examples} for r in table.itertuples()]
            few = _csv(client, run, f"probe/{view}/few_shot.csv", tmp)
            if few is not None and view == "stack84":
                rows += [{**stamp, "protocol": f"fewshot_{r.size}", "encoder": r.encoder,
                          "variable": "mean", "f1": r.f1, "n_train": r.size}
                         for r in few.itertuples()]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work-dir", type=Path, required=True)
    ap.add_argument("--game", default="ALE/Pong-v5")
    ap.add_argument("--ablation", default="", help="name of the cell these runs measured "
                    "(empty: the fixed protocol)")
    args = ap.parse_args()
    client = MlflowClient(f"sqlite:///{(args.work_dir / 'mlflow.db').resolve()}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = rows_of(client, args.game, tmp, args.ablation)
    if not rows:
        raise SystemExit(f"no finished pretrain or policy_data run in {args.work_dir}")
    table = pd.DataFrame(rows)
    means = table[table.variable == "mean"].pivot_table(index="encoder", columns="protocol",
                                                        values="f1")
    print(means.round(3).to_string())
    print(f"wrote {append_rows('probes', rows, replace='run_id')}")


if __name__ == "__main__":
    main()
