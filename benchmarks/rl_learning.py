"""Learning benchmark: Pong evaluation return at 250k / 500k / 1M / 2M env steps.

Start a long run (in the background; it checkpoints, so `--resume` continues it):

    .venv/bin/arcadelab rl --work-dir .arcadelab/learning --set rl.iterations=500

then read how far it got, from its MLflow store, at any time:

    .venv/bin/python benchmarks/rl_learning.py --work-dir .arcadelab/learning

Several runs and the peer on one chart (`--run LABEL=WORK_DIR` repeats; `--sb3` reads the
JSON lines that `benchmarks/sb3_learning.py` prints):

    .venv/bin/python benchmarks/rl_learning.py \\
        --run "4 epochs x 256=.arcadelab/learning" --run "default=.arcadelab/learning-default" \\
        --sb3 .arcadelab/bench/sb3_2M.log --plot docs/img/rl_learning_curve.png
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from results_io import save_figure, stage_runs, store_client  # benchmarks/: the script dir

from pipelines.rl.experiments import holds_from
from pipelines.rl.train import EVAL_MARKS

TARGET = 18.0  # the learning target: +18 within 2M env steps


@dataclass(frozen=True)
class Curve:
    label: str
    evals: list[tuple[int, float]]  # (env steps, greedy evaluation return)
    train: list[tuple[int, float]]  # (env steps, training-episode mean return, clipped)


def read_runs(label: str, work_dir: Path) -> list[Curve]:
    """Every `rl` stage run in a work dir's MLflow store, oldest first."""
    client = store_client(work_dir)
    runs = stage_runs(client)
    if not runs:
        raise SystemExit(f"no rl run in {work_dir}")
    curves = []
    for run in runs:
        history = {k: sorted((m.step, m.value) for m in client.get_metric_history(
            run.info.run_id, f"rl/{k}")) for k in ("eval_return", "episode_return_mean",
                                                   "env_steps_sampled")}
        rate = run.data.metrics.get("rl/env_steps_per_s_overall")
        last = max((s for s, _ in history["env_steps_sampled"]), default=0)
        print(f"{label}: run {run.info.run_id[:8]} ({run.info.status}): {last} env steps, "
              f"{len(history['eval_return'])} evaluations"
              + (f", {rate:.0f} env steps/s overall" if rate else ""))
        curves.append(Curve(label if len(runs) == 1 else f"{label} {run.info.run_id[:8]}",
                            history["eval_return"], history["episode_return_mean"]))
    return curves


def read_sb3(path: Path) -> Curve:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    return Curve("stable-baselines3 PPO", [(r["env_steps"], r["eval_return"]) for r in rows], [])


def report(curve: Curve) -> None:
    print(f"  {curve.label}")
    for mark in EVAL_MARKS:
        after = [(s, v) for s, v in curve.evals if s >= mark]
        shown = f"{after[0][1]:+.1f} (at {after[0][0]:,})" if after else "not reached"
        print(f"    eval return at {mark:>9,}: {shown}")
    first = next(((s, v) for s, v in curve.evals if v >= TARGET), None)
    print(f"    first eval >= +{TARGET:.0f}: " + (f"{first[0]:,} env steps ({first[1]:+.1f})"
                                                 if first else "not reached"))
    # One lucky evaluation is not learning: from where on does every one pass?
    stays = holds_from([s for s, _ in curve.evals], [v for _, v in curve.evals], TARGET)
    if stays is not None:
        print(f"    every eval >= +{TARGET:.0f} from {stays:,.0f} env steps on")
    if curve.train:
        best = max(curve.train, key=lambda p: p[1])
        print(f"    best training mean return {best[1]:+.2f} at {best[0]:,}; "
              f"last {curve.train[-1][1]:+.2f}")


def plot(curves: list[Curve], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, c in enumerate(curves):
        color = f"C{i}"
        if c.evals:
            xs, ys = zip(*c.evals, strict=True)
            ax.plot([x / 1e6 for x in xs], ys, "o-", ms=3, color=color,
                    label=f"{c.label}: greedy evaluation")
        if c.train:
            xs, ys = zip(*c.train, strict=True)
            ax.plot([x / 1e6 for x in xs], ys, color=color, alpha=0.35, lw=1,
                    label=f"{c.label}: training episodes (mean)")
    ax.axhline(TARGET, color="grey", ls="--", lw=1, label=f"target +{TARGET:.0f}")
    for mark in EVAL_MARKS:
        ax.axvline(mark / 1e6, color="grey", ls=":", lw=0.8)
    ax.set(xlabel="env steps (millions, 4 frames each)", ylabel="Pong return",
           ylim=(-22, 22), title="PPO on ALE Pong, one seed each")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    save_figure(fig, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work-dir", type=Path, action="append", default=[],
                    help="an arcadelab rl work dir (its name is the label)")
    ap.add_argument("--run", action="append", default=[], metavar="LABEL=WORK_DIR")
    ap.add_argument("--sb3", type=Path, help="benchmarks/sb3_learning.py output")
    ap.add_argument("--plot", type=Path, help="write the chart here")
    args = ap.parse_args()
    named = [(d.name, d) for d in args.work_dir]
    for spec in args.run:
        label, sep, path = spec.rpartition("=")
        if not sep or not label:
            raise SystemExit(f"--run wants LABEL=WORK_DIR, got {spec!r}")
        named.append((label, Path(path)))
    if not named and not args.sb3:
        named = [("learning", Path(".arcadelab/learning"))]
    curves = [c for label, d in named for c in read_runs(label, d)]
    if args.sb3:
        curves.append(read_sb3(args.sb3))
    print("\nGreedy evaluation return (unclipped) at the marks:")
    for c in curves:
        report(c)
    if args.plot:
        plot(curves, args.plot)


if __name__ == "__main__":
    main()
