"""Markdown tables for docs/pretraining.md, drawn from `benchmarks/results/probes.csv` only.

    .venv/bin/python benchmarks/probe_report.py            # every table
    .venv/bin/python benchmarks/probe_report.py ablation  # or atariari, policy_view, fewshot, shift
    .venv/bin/python benchmarks/probe_report.py --plots docs/img   # the policy view's charts
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from results_io import read_rows  # benchmarks/ is the script dir, on sys.path

# AtariARI (Anand et al. 2019, Table 2 / appendix), Pong row, mean probe F1 (random-agent data).
PAPER_PONG = {"majority": 0.10, "random": 0.17, "autoencoder": 0.09,  # VAE in the paper
              "pixel prediction": 0.70, "cpc": 0.71, "stdim": 0.81, "supervised": 0.87}
ORDER = ["majority", "pixels_1nn", "random", "autoencoder", "atc", "clip", "stdim", "supervised"]
VARIABLES = ["player_y", "enemy_y", "ball_x", "ball_y", "player_score", "enemy_score", "mean"]


def _md(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v)
                                       for v in row) + " |")
    return "\n".join(lines)


def ablation(rows: pd.DataFrame) -> str:
    """Random-init cells of benchmarks/probe_ablation.py: mean over encoder seeds."""
    r = rows[(rows.protocol == "atariari") & (rows.encoder == "random")
             & rows.encoder_seed.notna()].copy()
    r["cell"] = r.ablation.fillna("").replace("", "current protocol")
    t = r.pivot_table(index="cell", columns="variable", values="f1", aggfunc="mean")
    seeds = r.groupby("cell").encoder_seed.nunique()
    t = t.reindex(columns=[v for v in VARIABLES if v in t.columns]).sort_values("mean")
    t.insert(0, "seeds", seeds.reindex(t.index))
    return _md(t.reset_index())


def protocol(rows: pd.DataFrame, name: str) -> str:
    """The fixed protocol's table: each encoder's latest run, per variable, with the paper."""
    r = rows[(rows.protocol == name) & rows.ablation.fillna("").eq("")]
    if r.empty:
        return f"(no rows for protocol {name})"
    if "run_id" not in r.columns:
        r = r.assign(run_id=pd.NA)
    # A stage run's rows where one exists (its latest), else the ablation script's (all seeds).
    staged = r[r.run_id.notna()]
    last = staged.groupby("encoder")["run_id"].last()  # rows are appended in time order
    r = pd.concat([staged[staged.run_id == staged.encoder.map(last)],
                   r[r.run_id.isna() & ~r.encoder.isin(last.index)]])
    t = r.pivot_table(index="encoder", columns="variable", values="f1", aggfunc="mean")
    t = t.reindex(index=[e for e in ORDER if e in t.index],
                  columns=[v for v in VARIABLES if v in t.columns])
    if name == "atariari":
        t["paper mean (AtariARI)"] = [PAPER_PONG.get(e, float("nan")) for e in t.index]
    return _md(t.reset_index())


def fewshot(rows: pd.DataFrame) -> str:
    r = _latest(rows, "fewshot_")
    r = r[r.variable == "mean"].copy()
    if r.empty:
        return "(no few-shot rows)"
    r["labels"] = r.protocol.str.removeprefix("fewshot_").astype(int)
    t = r.pivot_table(index="encoder", columns="labels", values="f1", aggfunc="last")
    return _md(t.reindex([e for e in ORDER if e in t.index]).reset_index())


def _latest(rows: pd.DataFrame, protocol_prefix: str) -> pd.DataFrame:
    """Fixed-protocol rows of each encoder's latest stage run for the protocols named."""
    r = rows[rows.protocol.str.startswith(protocol_prefix) & rows.ablation.fillna("").eq("")
             & rows.run_id.notna()]
    last = r.groupby("encoder")["run_id"].last()
    return r[r.run_id == r.encoder.map(last)]


def plots(rows: pd.DataFrame, out: Path) -> None:
    """The policy view's probe bars and few-shot curves, drawn from the rows."""
    from pipelines.features.probes import few_shot_chart, probe_bar_chart

    view = _latest(rows, "policy_view").rename(columns={"variable": "label"})
    view = view.assign(order=view.encoder.map({e: i for i, e in enumerate(ORDER)}))
    view = view.sort_values("order")
    probe_bar_chart(view[["encoder", "label", "f1"]], out / "probe-f1-policy-view.png",
                    "Linear-probe F1 per RAM variable (policy view, laptop data)")
    few = _latest(rows, "fewshot_")
    few = few.assign(size=few.n_train.astype(int),
                     order=few.encoder.map({e: i for i, e in enumerate(ORDER)}))
    few_shot_chart(few.sort_values(["order", "size"])[["encoder", "size", "f1"]],
                   out / "few-shot-policy-view.png",
                   "Few-shot probe F1 vs labelled frames (policy view, laptop data)")
    print(f"wrote {out}/probe-f1-policy-view.png and few-shot-policy-view.png")


def main() -> None:
    rows = read_rows("probes")
    if "--plots" in sys.argv:
        plots(rows, Path(sys.argv[sys.argv.index("--plots") + 1]))
        return
    which = sys.argv[1:] or ["ablation", "atariari", "policy_view", "fewshot", "shift"]
    for name in which:
        print(f"\n### {name}\n")
        if name == "ablation":
            print(ablation(rows))
        elif name == "fewshot":
            print(fewshot(rows))
        else:
            print(protocol(rows, name))


if __name__ == "__main__":
    main()
