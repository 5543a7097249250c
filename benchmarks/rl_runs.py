"""Issue 16's learning curves: PPO vs REINFORCE vs APPO, and the curriculum measured.

Every run is one `arcadelab rl` subprocess on the laptop preset plus the `--set` overrides of
its entry in `RUNS` and the measurement's own: a 2M env-step budget, a greedy evaluation of
10 episodes every ~50k env steps (a checkpoint with each, for `--resume`), no GIFs. Each run
has its own work dir `<store>/runs/<name>-s<seed>`; all log to one MLflow store,
`<store>/mlflow.db`. What is measured:

- REINFORCE vs PPO (`ppo`, `reinforce`, `reinforce_2act`), and APPO beside them (`appo`): the
  greedy evaluation return on the default variant vs env steps, within 2M env steps or 60
  minutes, whichever comes first (`--minutes 60`).
- The curriculum (`direct_d3`, `curriculum`, `uniform_mix`): the evaluation return on the
  target task, difficulty 3, vs env steps on the same seed and budget; then each policy, and
  `ppo`'s as the default policy, greedy on all 8 of Pong's variants (`zero-shot`).

REINFORCE (whole episodes per batch) and APPO (RLlib's iterations last >= 10 s) sample a
varying number of env steps per iteration: their evaluation period is set from an estimate
(`RunSpec.iter_env_steps`) and the script itself stops them (SIGTERM) once the run has logged
`--steps` env steps. PPO's iterations are exactly `rl.train_batch_size` env steps, so its budget
is a whole number of evaluation periods and it ends by itself (and registers its policy).

Learning runs one at a time on a quiet machine: each takes ~1-2 h on 2 cores. `--resume`
continues a run that was stopped from its last checkpoint.

    .venv/bin/python benchmarks/rl_runs.py run --store .arcadelab/rl_runs --name ppo --minutes 60
    .venv/bin/python benchmarks/rl_runs.py run --store .arcadelab/rl_runs --name reinforce \\
        --minutes 60
    .venv/bin/python benchmarks/rl_runs.py run --store .arcadelab/rl_runs --name reinforce_2act \\
        --minutes 60
    .venv/bin/python benchmarks/rl_runs.py run --store .arcadelab/rl_runs --name appo
    .venv/bin/python benchmarks/rl_runs.py run --store .arcadelab/rl_runs --name direct_d3
    .venv/bin/python benchmarks/rl_runs.py run --store .arcadelab/rl_runs --name curriculum
    .venv/bin/python benchmarks/rl_runs.py run --store .arcadelab/rl_runs --name uniform_mix
    # a second seed where the curriculum's lead on difficulty 3 is under 3 points:
    .venv/bin/python benchmarks/rl_runs.py run --store .arcadelab/rl_runs --name curriculum --seed 1

Read every run's evaluations into `benchmarks/results/rl_curves.csv` (run, env_steps,
eval_return, mode, difficulty: the evaluated variant) and one chart:

    .venv/bin/python benchmarks/rl_runs.py read --store .arcadelab/rl_runs \\
        --plot docs/img/rl_runs_curves.png

Zero-shot over the 8 variants (`arcadelab run policy_transfer` on the run's registered policy
version) into `benchmarks/results/zero_shot.csv` (policy, mode, difficulty, return; `ppo` is
written as the issue's `default` policy):

    .venv/bin/python benchmarks/rl_runs.py zero-shot --store .arcadelab/rl_runs --name curriculum
    .venv/bin/python benchmarks/rl_runs.py zero-shot --store .arcadelab/rl_runs --name ppo
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from results_io import (  # benchmarks/: the script dir
    append_and_read,
    evaluations,
    runs_by,
    save_figure,
    stage_runs,
    store_client,
    store_uri,
)

from pipelines.core.config import ConfigError, game_variants, load_config
from pipelines.core.model_refs import POLICY_MODEL

PRESET = "laptop"
STEPS = 2_000_000  # env-step budget of every run
EVAL_STEPS = 50_000  # about: the evaluation period in env steps
EVAL_EPISODES = 10  # greedy episodes per evaluation
CURVES = "rl_curves"  # benchmarks/results/rl_curves.csv
ZERO_SHOT = "zero_shot"  # benchmarks/results/zero_shot.csv
LAYOUT = "runs"  # <store>/runs/<name>-s<seed>: one run's work dir
POLL_S = 30.0  # how often a stop condition is checked while a run trains
STOP_GRACE_S = 180.0  # after SIGTERM: Ray's shutdown and MLflow's end of run, then SIGKILL
Variant = tuple[int, int]  # (mode, difficulty)

GYM = "rl.env_backend=gymnasium"  # game modes and difficulties need gymnasium's env
VARIANTS = "[{difficulty: 0}, {difficulty: 1}, {difficulty: 2}, {difficulty: 3}]"
# The curriculum moves on once the mean training return of its last episodes (at least 5 on
# the task) reaches -10: the agent returns the ball and scores about one point in three. PPO
# from scratch is there around 0.8M env steps on difficulty 0 (its greedy evaluation: -20.5 at
# 500k, -1 at 1M), so most of the 2M budget is left for the three later tasks; a threshold near
# +18 would spend the whole budget on difficulty 0. Never demotes (demote_at unset).
PROMOTE_AT = -10.0
MIN_EPISODES = 5
# Env steps per iteration where they are not exactly rl.train_batch_size (estimates, for the
# evaluation period only; every row carries the env steps actually logged).
# REINFORCE: each of the 2 env runners samples 16 complete episodes (one per env) per iteration,
# and a losing Pong episode lasts ~850 agent steps: ~27k at first, more as games lengthen.
REINFORCE_ITER_STEPS = 27_000
# APPO: RLlib's iterations last at least min_time_s_per_iteration (10 s) at ~1k env steps/s.
APPO_ITER_STEPS = 10_000


@dataclass(frozen=True)
class RunSpec:
    """A named run: its overrides of the laptop preset and, where RLlib's iterations vary in
    size, an estimate of their env steps (None: exactly rl.train_batch_size)."""

    sets: tuple[str, ...]
    iter_env_steps: int | None = None


RUNS: dict[str, RunSpec] = {
    "ppo": RunSpec(()),
    "reinforce": RunSpec(("rl.algorithm=reinforce",), REINFORCE_ITER_STEPS),
    "reinforce_2act": RunSpec(("rl.algorithm=reinforce", "rl.actions=up_down"),
                              REINFORCE_ITER_STEPS),
    "appo": RunSpec(("rl.algorithm=appo", "rl.num_env_runners=2"), APPO_ITER_STEPS),
    "direct_d3": RunSpec((GYM, "rl.curriculum.tasks=[{difficulty: 3}]")),
    "curriculum": RunSpec((GYM, f"rl.curriculum.tasks={VARIANTS}", "rl.curriculum.order=promote",
                           f"rl.curriculum.promote_at={PROMOTE_AT}",
                           f"rl.curriculum.min_episodes={MIN_EPISODES}")),
    "uniform_mix": RunSpec((GYM, f"rl.curriculum.tasks={VARIANTS}", "rl.curriculum.order=mix")),
}
# zero_shot.csv names the policies as issue 16 does: the PPO defaults are the `default` policy.
POLICY_NAMES = {"ppo": "default"}


# --- run ------------------------------------------------------------------------------------


def pinned(spec: RunSpec, seed: int, steps: int) -> tuple[list[str], bool]:
    """The run's `--set` overrides plus the measurement's, and whether this script must stop
    it at `steps` (its iterations vary in size, so `rl.iterations` only bounds it).

    Fixed-size iterations: a whole number of evaluation periods covering `steps` (the budget's
    end is evaluated too). Varying ones: ceil(steps / rl.train_batch_size) iterations, an upper
    bound (each samples at least a train batch)."""
    try:
        rl = load_config(PRESET, (), spec.sets).rl
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    batch = rl.train_batch_size * max(1, rl.num_learners)
    every = max(1, round(EVAL_STEPS / (spec.iter_env_steps or batch)))
    if spec.iter_env_steps is None:
        iterations = math.ceil(steps / batch / every) * every
    else:
        iterations = math.ceil(steps / batch)
    return [*spec.sets, f"seed={seed}", f"rl.iterations={iterations}",
            f"rl.evaluation_every={every}", f"rl.evaluation_episodes={EVAL_EPISODES}",
            f"rl.checkpoint_every={every}", "rl.video_max_steps=0"], \
        spec.iter_env_steps is not None


def work_dir(store: Path, name: str, seed: int) -> Path:
    return store.resolve() / LAYOUT / f"{name}-s{seed}"


def run_of(work: str) -> tuple[str, int] | None:
    """(name, seed) of a work dir this script laid out (None: some other run in the store)."""
    parts = Path(work).parts
    match = re.fullmatch(r"(.+)-s(\d+)", parts[-1]) if len(parts) >= 2 else None
    if match is None or parts[-2] != LAYOUT or match[1] not in RUNS:
        return None
    return match[1], int(match[2])


def rl_runs(client: MlflowClient) -> dict[tuple[str, int], list[Run]]:
    """The `rl` stage runs of every (name, seed) in the store, oldest first (a resume is a new
    MLflow run in the same work dir)."""
    return runs_by(stage_runs(client),
                   lambda r: run_of(r.data.params.get("runtime.work_dir", "")))


def seconds_spent(runs: Iterable[Run]) -> float:
    """Wall seconds of a run's earlier MLflow runs (each resume is one) that have ended."""
    return sum((r.info.end_time - r.info.start_time) / 1000 for r in runs
               if r.info.end_time)


def env_steps_now(client: MlflowClient, key: tuple[str, int]) -> int | None:
    """Env steps the running run of (name, seed) has logged (None: none running yet)."""
    running = [r for r in rl_runs(client).get(key, []) if r.info.status == "RUNNING"]
    if not running:
        return None
    return int(running[-1].data.metrics.get("rl/env_steps_sampled", 0))


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the run's process group (arcadelab ends its MLflow run as KILLED), SIGKILL
    after STOP_GRACE_S if it is still there."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            print(f"rl_runs: still running {STOP_GRACE_S:.0f} s after SIGTERM: SIGKILL",
                  flush=True)
    return proc.wait()


def supervise(proc: subprocess.Popen[bytes], deadline: float | None,
              steps_done: Callable[[], int | None] | None, steps: int) -> str | None:
    """Wait for the run; stop it at the deadline (time.monotonic) or once `steps_done()`
    reaches `steps`. Returns why it was stopped (None: it ended by itself)."""
    while True:
        try:
            proc.wait(timeout=POLL_S)
            return None
        except subprocess.TimeoutExpired:
            pass
        why = None
        if deadline is not None and time.monotonic() >= deadline:
            why = "its time budget is spent"
        elif steps_done is not None:
            try:
                done = steps_done()
            except MlflowException as exc:  # a busy store: ask again at the next poll
                print(f"rl_runs: could not read the run's env steps ({exc})", flush=True)
                done = None
            if done is not None and done >= steps:
                why = f"it has sampled {done:,} env steps (budget {steps:,})"
        if why is not None:
            print(f"rl_runs: stopping the run: {why}", flush=True)
            stop(proc)
            return why


def run(args: argparse.Namespace) -> None:
    store = args.store.resolve()
    work = work_dir(store, args.name, args.seed)
    if (work / "checkpoints" / "rl-latest.json").exists() and not args.resume:
        raise SystemExit(f"{work} holds this run's checkpoints: --resume continues it (a new "
                         "measurement wants another --store)")
    sets, stop_at_steps = pinned(RUNS[args.name], args.seed, args.steps)
    try:
        load_config(PRESET, (), sets)
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    client, key = store_client(store), (args.name, args.seed)
    deadline = None
    if args.minutes is not None:
        spent = seconds_spent(rl_runs(client).get(key, []))
        left = args.minutes * 60 - spent
        if left <= 0:
            raise SystemExit(f"{args.name} seed {args.seed} has run {spent / 60:.1f} min of "
                             f"its {args.minutes:g}: its rows count as they are")
        deadline = time.monotonic() + left
    work.mkdir(parents=True, exist_ok=True)
    cmd = [str(Path(sys.executable).parent / "arcadelab"), "rl", "--preset", PRESET,
           "--work-dir", str(work), "--mlflow-uri", store_uri(store),
           *(x for s in sets for x in ("--set", s))] + (["--resume"] if args.resume else [])
    print(shlex.join(cmd), flush=True)
    # Its own process group: a stop reaches Ray's workers too, and the terminal's Ctrl-C
    # reaches only this script, which passes it on as SIGTERM.
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        why = supervise(proc, deadline, (lambda: env_steps_now(client, key))
                        if stop_at_steps else None, args.steps)
    except BaseException:
        stop(proc)
        raise
    if why is not None:
        print(f"rl_runs: {args.name} seed {args.seed} stopped ({why}); its evaluations so far "
              "count (`read`), and it registered no policy", flush=True)
        raise SystemExit(0)
    raise SystemExit(proc.returncode)


# --- read -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """One MLflow `rl` run of a named run: what its rows need."""

    run: str
    seed: int
    run_id: str
    start_time: int
    status: str
    variant: Variant
    config_hash: str | None
    git_sha: str | None
    evals: tuple[tuple[int, float], ...]  # (env steps, greedy evaluation return)


def evaluated_variant(tasks_param: str | None, default: Variant) -> Variant:
    """The variant RLlib's evaluation plays: the curriculum's last task (the param is the
    logged list, e.g. "[{'difficulty': 3}]"; missing keys: the default's), else the default."""
    try:
        tasks = ast.literal_eval(tasks_param) if tasks_param else []
    except (ValueError, SyntaxError):
        tasks = []
    if not tasks:
        return default
    last = tasks[-1]
    return int(last.get("mode", default[0])), int(last.get("difficulty", default[1]))


def curve_rows(records: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """One row per evaluation of every (run, seed) curve. A resumed run re-evaluates the env
    steps after the checkpoint it resumed from: the newest run's value counts. `curve_id` is
    the curve's first MLflow run (the results file's rows of a curve are replaced by it)."""
    curves: dict[tuple[str, int], list[RunRecord]] = defaultdict(list)
    for rec in records:
        curves[(rec.run, rec.seed)].append(rec)
    rows: list[dict[str, Any]] = []
    for (name, seed), recs in sorted(curves.items()):
        recs = sorted(recs, key=lambda r: r.start_time)
        latest: dict[int, tuple[float, RunRecord]] = {}
        for rec in recs:  # oldest first: a later run overwrites the same env steps
            for steps, value in rec.evals:
                latest[int(steps)] = (value, rec)
        for steps, (value, rec) in sorted(latest.items()):
            rows.append({"run": name, "env_steps": steps, "eval_return": value,
                         "mode": rec.variant[0], "difficulty": rec.variant[1], "seed": seed,
                         "config_hash": rec.config_hash, "git_sha": rec.git_sha,
                         "run_id": rec.run_id, "curve_id": recs[0].run_id,
                         "status": rec.status})
    return rows


def default_variant(game: str) -> Variant:
    """The variant a plain env plays: the ROM's first mode and difficulty (Pong: 0/0)."""
    modes, difficulties = game_variants(game)
    return modes[0], difficulties[0]


def record_of(client: MlflowClient, name: str, seed: int, r: Run) -> RunRecord:
    p, tags = r.data.params, r.data.tags
    return RunRecord(
        name, seed, r.info.run_id, r.info.start_time, r.info.status,
        evaluated_variant(p.get("rl.curriculum.tasks"), default_variant(p["game"])),
        tags.get("arcadelab.config_hash"), tags.get("arcadelab.git_sha"),
        tuple((int(m.step), float(m.value)) for m in evaluations(client, r.info.run_id)))


def read_store(store: Path) -> pd.DataFrame:
    client = store_client(store)
    records = [record_of(client, name, seed, r)
               for (name, seed), runs in rl_runs(client).items() for r in runs]
    return pd.DataFrame(curve_rows(records))


def mean_curve(curves: Sequence[tuple[Sequence[float], Sequence[float]]]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Mean of curves (env steps, returns) over the env steps they all cover: every curve is
    interpolated at each env-step count any of them was evaluated at (seeds of REINFORCE and
    APPO are evaluated at different env steps)."""
    lo = max(float(s[0]) for s, _ in curves)
    hi = min(float(s[-1]) for s, _ in curves)
    grid = np.unique(np.concatenate([np.asarray(s, float) for s, _ in curves]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    return grid, np.mean([np.interp(grid, s, v) for s, v in curves], axis=0)


def run_order(names: Iterable[str]) -> list[str]:
    """The table's order, then any name it no longer has."""
    known = list(RUNS)
    return sorted(set(names), key=lambda n: (known.index(n) if n in known else len(known), n))


def plot(df: pd.DataFrame, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    for i, name in enumerate(run_order(df["run"])):
        sub = df[df["run"] == name]
        curves = []
        for _, g in sub.groupby("curve_id"):
            g = g.sort_values("env_steps")
            curves.append((g.env_steps.to_numpy(float), g.eval_return.to_numpy(float)))
            ax.plot(curves[-1][0] / 1e6, curves[-1][1], color=f"C{i}", alpha=0.35, lw=1)
        grid, mean = mean_curve(curves)
        seeds = sub.seed.nunique()
        variants = sorted({(int(m), int(d)) for m, d in zip(sub["mode"], sub["difficulty"],
                                                              strict=True)})
        where = ", ".join(f"m{m} d{d}" for m, d in variants)
        ax.plot(grid / 1e6, mean, "o-", ms=3, color=f"C{i}", lw=2.2,
                label=f"{name} on {where} (mean of {seeds} seed{'s' if seeds > 1 else ''})")
    ax.axhline(0, color="grey", ls=":", lw=0.8)
    ax.set(xlabel="env steps (millions)", ylim=(-22, 22),
           ylabel=f"greedy evaluation return ({EVAL_EPISODES} episodes)",
           title="Pong: evaluation return vs env steps (issue 16's runs; thin: one seed)")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    save_figure(fig, out)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    for name in run_order(df["run"]):
        for (seed, _), g in df[df["run"] == name].groupby(["seed", "curve_id"]):
            g = g.sort_values("env_steps")
            last = g.iloc[-1]
            out.append({"run": name, "seed": seed,
                        "variant": f"m{last['mode']} d{last['difficulty']}", "evals": len(g),
                        "last_env_steps": int(last["env_steps"]),
                        "last_return": last["eval_return"],
                        "best_return": g["eval_return"].max(), "status": last["status"]})
    return pd.DataFrame(out)


def read(args: argparse.Namespace) -> None:
    df = read_store(args.store)
    if df.empty:
        raise SystemExit(f"no run of this script has evaluated yet in {args.store}")
    if not args.no_write:  # the file keeps the runs of earlier stores too
        df = append_and_read(CURVES, df.to_dict("records"), replace="curve_id")
    print(summary(df).to_string(index=False))
    if args.plot:
        plot(df, args.plot)


# --- zero-shot ------------------------------------------------------------------------------


def registered_version(client: MlflowClient, runs: Sequence[Run]) -> str | None:
    """The newest policy version one of these runs registered (tag run_id)."""
    ids = {r.info.run_id for r in runs}
    found = [int(mv.version) for mv in client.search_model_versions(f"name='{POLICY_MODEL}'")
             if mv.tags.get("run_id") in ids]
    return str(max(found)) if found else None


def transfer_run(client: MlflowClient, version: str, seed: int, episodes: int) -> Run | None:
    """The newest finished policy_transfer stage run that evaluated this version with this
    seed and episode count (a run the stage cache reused carries no version tag: the run it
    reused does)."""
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, "tags.`arcadelab.stage` = 'policy_transfer' and "
                              f"tags.`arcadelab.policy_version` = '{version}' and "
                              f"params.seed = '{seed}' and "
                              f"params.`policy.episodes` = '{episodes}' and "
                              "attributes.status = 'FINISHED'",
                              max_results=1, order_by=["attributes.start_time DESC"])
    return runs[0] if runs else None


def zero_shot_rows(policy: str, seed: int, metrics: dict[str, float], seen: str,
                   extra: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per variant from policy_transfer's `fewshot/policy/m<mode>_d<diff>/return`
    metrics; `seen` is its `policy.seen` param (the variants trained on, comma-separated)."""
    seen_keys = set(filter(None, seen.split(",")))
    rows = []
    for key, value in metrics.items():
        match = re.fullmatch(r"fewshot/policy/m(\d+)_d(\d+)/return", key)
        if match:
            rows.append({"policy": policy, "mode": int(match[1]), "difficulty": int(match[2]),
                         "return": value, "seed": seed,
                         "seen": f"m{match[1]}_d{match[2]}" in seen_keys, **extra})
    return sorted(rows, key=lambda r: (r["mode"], r["difficulty"]))


def zero_shot(args: argparse.Namespace) -> None:
    store = args.store.resolve()
    client = store_client(store)
    runs = rl_runs(client).get((args.name, args.seed), [])
    if not runs:
        raise SystemExit(f"no run {args.name} seed {args.seed} in {store}")
    version = registered_version(client, runs)
    if version is None:
        raise SystemExit(f"{args.name} seed {args.seed} registered no policy: a run registers "
                         "it when it ends by itself (not when stopped by --minutes or --steps)")
    cmd = [str(Path(sys.executable).parent / "arcadelab"), "run", "policy_transfer",
           "--preset", PRESET, "--work-dir", str(work_dir(store, args.name, args.seed)),
           "--mlflow-uri", store_uri(store), "--set", f"seed={args.seed}",
           "--set", f"policy_transfer.alias={version}",
           "--set", f"policy_transfer.episodes={args.episodes}"]
    print(shlex.join(cmd), flush=True)
    if rc := subprocess.call(cmd):
        raise SystemExit(rc)
    evaluated = transfer_run(client, version, args.seed, args.episodes)
    if evaluated is None:
        raise SystemExit(f"no finished policy_transfer run of {POLICY_MODEL} v{version} "
                         f"in {store}")
    policy = POLICY_NAMES.get(args.name, args.name)
    tags, params = evaluated.data.tags, evaluated.data.params
    extra = {"config_hash": runs[-1].data.tags.get("arcadelab.config_hash"),
             "git_sha": tags.get("arcadelab.git_sha"), "policy_version": version,
             "episodes": int(params.get("policy.episodes", args.episodes)),
             "eval_run_id": evaluated.info.run_id}
    rows = zero_shot_rows(policy, args.seed, evaluated.data.metrics,
                          params.get("policy.seen", ""), extra)
    if not rows:
        raise SystemExit(f"policy_transfer run {evaluated.info.run_id} logged no variant")
    df = pd.DataFrame(rows)
    if not args.no_write:
        append_and_read(ZERO_SHOT, rows, replace="eval_run_id")
    print(df[["policy", "mode", "difficulty", "return", "seen"]].to_string(index=False))
    print(f"{policy}: mean over the {len(df)} variants {df['return'].mean():+.2f}, seen "
          f"{df[df.seen]['return'].mean():+.2f}, unseen {df[~df.seen]['return'].mean():+.2f}")


# --- CLI ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="runs: " + ", ".join(RUNS))
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="one named run (or --resume it) to its budget")
    r.add_argument("--store", type=Path, required=True,
                   help="holds mlflow.db and runs/<name>-s<seed>")
    r.add_argument("--name", choices=RUNS, required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--steps", type=int, default=STEPS, help="env-step budget (default 2M)")
    r.add_argument("--minutes", type=float,
                   help="wall-clock budget as well, whichever comes first (issue 16's REINFORCE "
                        "vs PPO: 60); counts the run's earlier, resumed-from MLflow runs. At the "
                        "limit the run gets SIGTERM (its process group): arcadelab ends its "
                        "MLflow run as KILLED, no policy is registered, and the evaluations "
                        "logged so far still count")
    r.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    r.set_defaults(fn=run)
    rd = sub.add_parser("read", help="every run's evaluations -> rl_curves.csv (+ chart)")
    rd.add_argument("--store", type=Path, required=True)
    rd.add_argument("--plot", type=Path, help="PNG: eval return vs env steps, every run")
    rd.add_argument("--no-write", action="store_true", help="print only, write no CSV")
    rd.set_defaults(fn=read)
    z = sub.add_parser("zero-shot", help="a run's registered policy on every game variant "
                       "-> zero_shot.csv")
    z.add_argument("--store", type=Path, required=True)
    z.add_argument("--name", choices=RUNS, required=True)
    z.add_argument("--seed", type=int, default=0)
    z.add_argument("--episodes", type=int, default=EVAL_EPISODES,
                   help="greedy episodes per variant (default 10, as the curves' evaluations)")
    z.add_argument("--no-write", action="store_true", help="print only, write no CSV")
    z.set_defaults(fn=zero_shot)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
