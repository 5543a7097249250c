"""Active learning: label savings against random sampling, and the pool-scoring step against
the peer a user would pick instead (modAL), measured side by side in one run.

    .venv/bin/python benchmarks/active_learning.py                     # laptop preset
    .venv/bin/python benchmarks/active_learning.py --preset smoke      # a minute, for a try

1. Runs the real `active` flow (Prefect, Ray, MLflow) on the preset: every strategy's loop to
   the label budget, then stream-based AL; prints labels to reach `target_fraction` of the
   full-data F1 (ball x/y) and the savings against random (the issue's target: >= 1.5x).
2. On the same pool and one trained classifier: scores the whole pool by margin with our Ray
   tasks over shards vs modAL's `margin_sampling` (one process, one head: modAL takes one
   sklearn-style classifier), and checks both pick the same batch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="laptop")
    ap.add_argument("--work-dir", type=Path, default=Path(".arcadelab/bench-al"))
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--png", type=Path, default=None, help="copy the F1-vs-labels chart here")
    args = ap.parse_args()

    import torch
    from mlflow import MlflowClient
    from modAL.uncertainty import margin_sampling

    from flows.pipeline import active_flow
    from pipelines.active import acquisition as acq
    from pipelines.active.head import fit_head, head_state
    from pipelines.active.stage import prepare_active, score_pool
    from pipelines.core.config import load_config
    from pipelines.data.prep import dataset_path

    cfg = load_config(args.preset, sets=args.sets, runtime={"work_dir": args.work_dir})
    start = time.perf_counter()
    result = active_flow(cfg)
    wall = time.perf_counter() - start
    res = result.stages["active"]
    a = cfg.active
    rounds = len(res.curves[res.curves.strategy == a.strategies[0]])
    print(f"\n== label savings ({args.preset} preset, {rounds} rounds per strategy, budget "
          f"{a.budget}, batch {a.batch_size}, wall {wall / 60:.1f} min)")
    targets = ", ".join(a.target_labels or ("the game's default labels",))
    print(f"encoder: {res.encoder}; full-data F1 (mean of {targets}): "
          f"{res.full_f1:.3f}; target {a.target_fraction:.0%} of it: {res.target_f1:.3f}")
    print(f"{'strategy':<17}{'F1 @ budget':>12}{'labels to target':>18}{'savings vs random':>19}")
    for s in a.strategies:
        c = res.curves[res.curves.strategy == s].sort_values("labels")
        need = res.labels_to_target.get(s)
        sav = "1.00x" if s == "random" else (
            f"{'>=' if res.savings_lower_bound.get(s) else ''}{res.savings[s]:.2f}x"
            if np.isfinite(res.savings.get(s, np.nan)) else "n/a")
        print(f"{s:<17}{c.f1.iloc[-1]:>12.3f}{(f'{need:.0f}' if need else 'not reached'):>18}"
              f"{sav:>19}")
    if res.stream is not None:
        print(res.stream.describe())
    run = MlflowClient(result.tracking_uri).get_run(result.mlflow_run_id)
    print(f"MLflow parent run {run.info.run_id} in {result.tracking_uri}")
    if args.png is not None:
        stage = next(r for r in MlflowClient(result.tracking_uri).search_runs(
            [result.experiment_id], f"tags.`mlflow.parentRunId` = '{result.mlflow_run_id}'")
            if r.data.tags.get("arcadelab.stage") == "active")
        local = MlflowClient(result.tracking_uri).download_artifacts(
            stage.info.run_id, "al/f1_vs_labels.png", str(args.work_dir))
        args.png.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(local, args.png)
        print(f"chart: {args.png}")

    # -- scoring the pool: ours (Ray tasks over shards) vs modAL (one process, one head)
    ctx = prepare_active(cfg, dataset_path(cfg), None)
    rows = np.random.default_rng(0).choice(len(ctx.pool_ids), min(1000, len(ctx.pool_ids)),
                                           replace=False)
    head = fit_head(ctx.pool_x[rows], ctx.oracle(tuple(ctx.pool_ids[rows])), ctx.head,
                    ctx.train, seed=0)
    pool = np.arange(len(ctx.pool_ids))
    k = a.batch_size
    state = head_state(head, ctx.head)
    score_pool(ctx.pool_ref(), pool[:64], state, "margin", 1, a.score_shards, 0)  # warm workers
    t = time.perf_counter()
    score_pool(ctx.pool_ref(), pool, state, "margin", 1, a.score_shards, 0)
    ours_s = time.perf_counter() - t

    class OneHead:  # modAL's classifier interface over the ball_x head
        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            return head.probs(torch.from_numpy(np.asarray(x, np.float32))).numpy()[:, 0]

    t = time.perf_counter()
    modal_idx = margin_sampling(OneHead(), ctx.pool_x, n_instances=k)[0]
    modal_s = time.perf_counter() - t
    one = acq.margin(head.probs(torch.from_numpy(ctx.pool_x)).numpy()[:, 0])
    same = len(set(acq.top_k(one, k)) & set(np.asarray(modal_idx).tolist()))
    n = len(pool)
    print(f"\n== pool scoring, {n} frames, margin, batch {k}")
    print(f"ours, Ray tasks over {a.score_shards} shards, {len(ctx.label_names)} heads : "
          f"{n / ours_s:>9.0f} frames/s")
    print(f"modAL margin_sampling, 1 process, 1 head : {n / modal_s:>9.0f} frames/s "
          f"(ours {ours_s / modal_s:.2f}x its time for {len(ctx.label_names)}x the heads)")
    print(f"same batch as modAL on the ball_x head   : {same}/{k} frames")


if __name__ == "__main__":
    main()
