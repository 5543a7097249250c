"""Time to solve Pong: env steps and wall seconds until greedy evaluation holds +18 for good.

The env steps and wall-clock seconds from which every later greedy evaluation of a config is at
least +18, beside stable-baselines3's env steps/s measured on the same machine.

One config is one `arcadelab rl` run to a fixed budget (no early stop), in its own work dir
`<store>/time_to_solve/<config>/s<seed>`, logging to the store's MLflow. Every ~50k env steps
(12 iterations of the laptop's 4,096) RLlib's evaluation runner plays 10 greedy episodes
inside the iteration, so evaluation time is in the wall clock. Wall seconds of an evaluation:
its MLflow timestamp minus the rl stage run's start (imports and Ray's start before that are
not counted); a resumed run continues the clock from the checkpoint it resumed from.

    .venv/bin/python benchmarks/time_to_solve.py run --config default --seed 0 \\
        --store .arcadelab/time_to_solve --steps 2000000     # `--resume` continues a killed one
    .venv/bin/python benchmarks/time_to_solve.py run --config 2x256 --seed 0 \\
        --store .arcadelab/time_to_solve --set rl.num_epochs=2 --set rl.minibatch_size=256

Then, back to back on the same machine, the peer's speed (rl-zoo3's Atari PPO, no evaluation):

    .venv/bin/pip install -c constraints.txt -e ".[benchmark]"       # stable-baselines3
    .venv/bin/python benchmarks/time_to_solve.py sb3 --steps 100000

Read every run into `benchmarks/results/time_to_solve.csv`, the summary table and the chart:

    .venv/bin/python benchmarks/time_to_solve.py read --store .arcadelab/time_to_solve \\
        --plot docs/img/time_to_solve.png
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from results_io import (  # benchmarks/: the script dir
    append_and_read,
    append_rows,
    evaluations,
    runs_by,
    save_figure,
    stage_runs,
    store_client,
)

from pipelines.core.config import ConfigError, config_digest, load_config
from pipelines.rl.experiments import RunEvals, TimedEval, chain_wall_clock, time_to_hold

TARGET = 18.0
RESULTS = "time_to_solve"  # benchmarks/results/time_to_solve.csv
LAYOUT = "time_to_solve"  # <store>/time_to_solve/<config>/s<seed>: one run's work dir
EVAL_STEPS = 50_000  # about: evaluate every round(50,000 / env steps per iteration) iterations
EVAL_EPISODES = 10  # at least
# Set by the script from --seed and --steps, or fixed so that every run is measured alike.
PINNED = ("seed", "rl.iterations", "rl.evaluation_every", "rl.checkpoint_every",
          "rl.video_max_steps")
SB3 = "stable-baselines3"  # config_name of the peer's speed rows
EVAL_SHARE_NOTE = ("share of wall time in evaluation: not measured. pipelines/rl/train.py logs "
                   "no evaluation timer (RLlib's result has `timers/evaluation_iteration`, "
                   "which `iteration_metrics` does not copy), so wall_s includes evaluations.")


def pinned(preset: str, sets: list[str], seed: int, steps: int) -> list[str]:
    """The user's `--set` overrides plus the measurement's: evaluation every ~50k env steps (a
    checkpoint with each, for --resume), at least 10 episodes, a whole number of evaluation
    periods covering `steps` (the budget's end is evaluated too), no GIFs in the wall clock."""
    keys = [s.partition("=")[0].strip() for s in sets]
    if fixed := sorted(set(keys) & set(PINNED)):
        raise SystemExit(f"--set {', '.join(fixed)}: set by this script (--seed, --steps)")
    try:
        rl = load_config(preset, (), sets).rl
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    per_iter = rl.train_batch_size * max(1, rl.num_learners)
    every = max(1, round(EVAL_STEPS / per_iter))
    episodes = rl.evaluation_episodes if "rl.evaluation_episodes" in keys else EVAL_EPISODES
    if episodes < EVAL_EPISODES:
        raise SystemExit(f"rl.evaluation_episodes={episodes}: at least {EVAL_EPISODES}")
    iterations = math.ceil(steps / per_iter / every) * every
    return [*sets, f"seed={seed}", f"rl.iterations={iterations}",
            f"rl.evaluation_every={every}", f"rl.evaluation_episodes={episodes}",
            f"rl.checkpoint_every={every}", "rl.video_max_steps=0"]


def run(args: argparse.Namespace) -> None:
    if not re.fullmatch(r"[\w.+-]+", args.config):
        raise SystemExit(f"--config {args.config!r}: a plain name (letters, digits, _.+-)")
    store = args.store.resolve()
    work = store / LAYOUT / args.config / f"s{args.seed}"
    record = work / "time_to_solve.json"  # the config a name stands for, pinned on first run
    if record.exists():
        kept = json.loads(record.read_text())
        if not args.resume:
            raise SystemExit(f"{work} holds this config's run: --resume continues it (a new "
                             "measurement wants another --store or --config name)")
        preset, sets = args.preset or kept["preset"], args.set or kept["sets"]
        steps = args.steps or kept["steps"]  # a larger budget may go on from the checkpoint
        if (preset, sets) != (kept["preset"], kept["sets"]):
            raise SystemExit(f"--config {args.config} is --preset {kept['preset']} "
                             f"{' '.join('--set ' + s for s in kept['sets'])}: give the same "
                             "or none")
    elif args.resume:
        raise SystemExit(f"nothing to resume in {work}")
    else:
        preset, sets, steps = args.preset or "laptop", args.set, args.steps or 2_000_000
    overrides = pinned(preset, sets, args.seed, steps)
    work.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"preset": preset, "sets": sets, "steps": steps}) + "\n")
    cmd = [str(Path(sys.executable).parent / "arcadelab"), "rl", "--preset", preset,
           "--work-dir", str(work), "--mlflow-uri", f"sqlite:///{store / 'mlflow.db'}",
           *(x for s in overrides for x in ("--set", s))] + (["--resume"] if args.resume else [])
    print(" ".join(cmd), flush=True)
    raise SystemExit(subprocess.call(cmd))


def sb3(args: argparse.Namespace) -> None:
    """The peer's env steps/s: rl-zoo3's Atari PPO learning `--steps`, no evaluation."""
    from sb3_learning import N_ENVS, ZOO_PPO, make_ppo

    model = make_ppo(args.game, args.seed)
    model.learn(1024)  # warm-up: first resets and allocations, as benchmarks/rl_throughput.py
    done, started = model.num_timesteps, dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    model.learn(args.steps, reset_num_timesteps=False)
    wall = time.perf_counter() - start
    steps = model.num_timesteps - done
    row = {"config_name": SB3, "seed": args.seed, "env_steps": steps, "eval_return": math.nan,
           "wall_s": round(wall, 1), "run_id": f"sb3-{started:%Y%m%dT%H%M%S}",
           "status": "FINISHED", "host": socket.gethostname(),
           "started": started.isoformat(timespec="seconds"),
           "train_env_steps_per_s": steps / wall,
           "config_hash": config_digest({"game": args.game, "n_envs": N_ENVS, **ZOO_PPO})}
    row["curve_id"] = row["run_id"]
    print(json.dumps(row), flush=True)
    print(f"SB3 PPO (rl-zoo3 settings) on {args.game}: {steps:,} env steps in {wall:.0f} s = "
          f"{steps / wall:.0f} env steps/s")
    if not args.no_write:
        print(f"wrote {append_rows(RESULTS, [row])}")


def config_of(work_dir: str, seed: str) -> str | None:
    """The config name of a run this script started (None: some other run in the store)."""
    parts = Path(work_dir).parts
    ok = len(parts) >= 3 and parts[-3] == LAYOUT and parts[-1] == f"s{seed}"
    return parts[-2] if ok else None


def train_time(client: MlflowClient, run_id: str, eval_steps: set[float]) -> tuple[float, float]:
    """Env steps and seconds of a run's iterations without an evaluation: the training speed,
    like for like with SB3's (`time_this_iter_s`: sampling + learning, no checkpoints)."""
    sizes = {m.step: m.value for m in client.get_metric_history(run_id, "rl/env_steps_iter")}
    steps = seconds = 0.0
    for m in client.get_metric_history(run_id, "rl/env_steps_per_s"):
        size = sizes.get(m.step, 0.0)
        if m.step not in eval_steps and size > 0 and m.value > 0:
            steps, seconds = steps + size, seconds + size / m.value
    return steps, seconds


def utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


def curve_of(run: Run) -> tuple[str, int] | None:
    """(config name, seed) of a run this script started (None: some other run)."""
    p = run.data.params
    name = config_of(p.get("runtime.work_dir", ""), p.get("seed", ""))
    return None if name is None else (name, int(p["seed"]))


def read_store(store: Path) -> pd.DataFrame:
    """One row per evaluation of every (config, seed) curve in the store, resumes chained."""
    client = store_client(store)
    rows: list[dict[str, Any]] = []
    for (name, seed), runs in sorted(runs_by(stage_runs(client), curve_of).items()):
        evals = {r.info.run_id: [(m.step, m.value, m.timestamp)
                                 for m in evaluations(client, r.info.run_id)] for r in runs}
        curve = chain_wall_clock([RunEvals(r.info.run_id, r.info.start_time,
                                           evals[r.info.run_id]) for r in runs])
        if not curve:
            continue
        # Iterations redone after a resume are speed samples all the same.
        timed = [train_time(client, r.info.run_id, {s for s, _, _ in evals[r.info.run_id]})
                 for r in runs]
        seconds = sum(t for _, t in timed)
        rate = sum(s for s, _ in timed) / seconds if seconds else math.nan
        by_id = {r.info.run_id: r for r in runs}
        p = runs[-1].data.params
        budget = (int(p["rl.iterations"]) * int(p["rl.train_batch_size"])
                  * max(1, int(p.get("rl.num_learners", 0))))
        for e in curve:
            r = by_id[e.run_id]
            rows.append({"config_name": name, "seed": seed, "env_steps": int(e.env_steps),
                         "eval_return": e.eval_return, "wall_s": round(e.wall_s, 1),
                         "run_id": e.run_id, "curve_id": runs[0].info.run_id,
                         "status": r.info.status, "budget_env_steps": budget,
                         "evaluation_episodes": int(r.data.params["rl.evaluation_episodes"]),
                         "train_env_steps_per_s": rate,
                         "host": r.data.tags.get("arcadelab.host", ""),
                         "started": utc(runs[0].info.start_time),
                         "config_hash": r.data.tags.get("arcadelab.config_hash"),
                         "git_sha": r.data.tags.get("arcadelab.git_sha")})
    return pd.DataFrame(rows)


def nearest_sb3(peers: pd.DataFrame, host: Any, started: str) -> pd.Series | None:
    """The SB3 measurement closest in time to a run, on its host when the run names one."""
    if isinstance(host, str) and host:
        peers = peers[peers.host == host]
    if peers.empty:
        return None
    gap = (pd.to_datetime(peers.started, utc=True) - pd.Timestamp(started)).abs()
    return peers.loc[gap.idxmin()]


def summary(df: pd.DataFrame) -> pd.DataFrame:
    peers = df[df.config_name == SB3]
    out = []
    for (name, seed, _), g in df[df.config_name != SB3].groupby(
            ["config_name", "seed", "curve_id"]):
        g = g.sort_values("env_steps")
        curve = [TimedEval(*t) for t in g[["env_steps", "eval_return", "wall_s", "run_id"]]
                 .itertuples(index=False, name=None)]
        held, last = time_to_hold(curve, TARGET), curve[-1]
        train = float(g.train_env_steps_per_s.iloc[-1])  # NaN: no iteration without evaluation
        peer = nearest_sb3(peers, g.host.iloc[-1], g.started.iloc[0])
        ratio = None if peer is None else train / float(peer.train_env_steps_per_s)
        out.append({
            "config": name, "seed": seed, "evals": len(curve),
            "env_steps": f"{int(last.env_steps):,}/{int(g.budget_env_steps.iloc[-1]):,}",
            "last_return": last.eval_return,
            f"holds_{TARGET:+g}_from_env_steps": None if held is None else int(held.env_steps),
            f"holds_{TARGET:+g}_from_wall_s": None if held is None else round(held.wall_s),
            "env_steps_per_s": round(last.env_steps / last.wall_s),  # evaluations included
            "train_env_steps_per_s": round(train, 1),  # iterations without evaluation
            "sb3_env_steps_per_s": None if peer is None else round(peer.train_env_steps_per_s, 1),
            "ratio_to_sb3": None if ratio is None else round(ratio, 2),
            "sb3_measured": None if peer is None else peer.started})
    whole = ["seed", f"holds_{TARGET:+g}_from_env_steps", f"holds_{TARGET:+g}_from_wall_s"]
    return pd.DataFrame(out).astype(dict.fromkeys(whole, "Int64"))


def plot(df: pd.DataFrame, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_steps, by_wall) = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    rl = df[df.config_name != SB3]
    for i, (name, sub) in enumerate(rl.groupby("config_name")):
        for j, (_, g) in enumerate(sub.groupby(["seed", "curve_id"])):
            g = g.sort_values("env_steps")
            label = f"{name} ({sub.seed.nunique()} seed{'s' if sub.seed.nunique() > 1 else ''})"
            kw = {"color": f"C{i}", "ms": 3, "label": label if j == 0 else None}
            by_steps.plot(g.env_steps / 1e6, g.eval_return, "o-", **kw)
            by_wall.plot(g.wall_s / 60, g.eval_return, "o-", **kw)
    for ax, xlabel in ((by_steps, "env steps (millions)"), (by_wall, "wall clock (minutes)")):
        ax.axhline(TARGET, color="grey", ls="--", lw=1)
        ax.set(xlabel=xlabel, ylim=(-22, 22))
    by_steps.set(ylabel=f"greedy evaluation return ({EVAL_EPISODES}+ episodes)")
    by_steps.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"PPO on Pong: time to hold {TARGET:+g}")
    fig.tight_layout()
    save_figure(fig, out)


def read(args: argparse.Namespace) -> None:
    df = read_store(args.store)
    if df.empty:
        raise SystemExit(f"no time_to_solve run has evaluated yet in {args.store}")
    if not args.no_write:  # the file also keeps SB3's speed rows
        df = append_and_read(RESULTS, df.to_dict("records"), replace="curve_id")
    print(summary(df).to_string(index=False))
    print(EVAL_SHARE_NOTE)
    if args.plot:
        plot(df, args.plot)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run (or --resume) one config to its budget")
    r.add_argument("--config", required=True, help="a name for this config (its rows, its dir)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an arcadelab override (repeatable); pinned by the name's first run")
    r.add_argument("--preset", help="arcadelab preset (default laptop, or the name's first)")
    r.add_argument("--steps", type=int,
                   help="env-step budget (default 2,000,000, or the name's last)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--store", type=Path, required=True, help="work dir holding the MLflow db")
    r.add_argument("--resume", action="store_true")
    r.set_defaults(fn=run)
    s = sub.add_parser("sb3", help="stable-baselines3 PPO env steps/s on this machine")
    s.add_argument("--steps", type=int, default=100_000)
    s.add_argument("--game", default="PongNoFrameskip-v4")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-write", action="store_true")
    s.set_defaults(fn=sb3)
    rd = sub.add_parser("read", help="every run's evaluations -> time_to_solve.csv (+ chart)")
    rd.add_argument("--store", type=Path, required=True)
    rd.add_argument("--plot", type=Path)
    rd.add_argument("--no-write", action="store_true")
    rd.set_defaults(fn=read)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
