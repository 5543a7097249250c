"""Active-learning trials for `arcadelab tune` (`tune.target=active`, `pipelines/tune/sweep.py`).

A trial runs the pool-based loops of its config (e.g. one strategy and one batch size) to the
label budget, always with `random` beside them, because the objective is the label savings
against random sampling (`al/label_savings_vs_random`). Trials share the work dir's feature
cache and loop states: a loop with the same key (dataset, encoder, batch size, ...) is resumed,
not redone, so random's curve is computed once per batch size across the whole grid. The live
stream is not part of a trial.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from ray import tune

from pipelines.active.pool import load_features, resolve_encoder
from pipelines.active.stage import finish_active, prepare_active, run_round, start_state
from pipelines.core import tracking
from pipelines.core.config import ArcadeConfig, with_section
from pipelines.core.model_refs import pinned

log = logging.getLogger("arcadelab")


def trial_config(base: ArcadeConfig, params: dict[str, Any]) -> ArcadeConfig:
    """The trial's config: `active` fields from `params` (a bare strategy name stands for
    a one-strategy loop), random added as the baseline, the RAM oracle (a sweep cannot wait
    for a person), no live stream."""
    fields = dict(params)
    if isinstance(fields.get("strategies"), str):
        fields["strategies"] = [fields["strategies"]]
    cfg = with_section(base, "active", **fields, stream=False, oracle="ram")
    strategies = ("random", *(s for s in cfg.active.strategies if s != "random"))
    return with_section(cfg, "active", strategies=list(strategies))


def trial_metrics(savings: dict[str, float], needs: dict[str, float | None],
                  final_f1: dict[str, float]) -> dict[str, float]:
    """The trial's objective: the best savings among its non-random strategies; 0 when none
    reaches the target F1 within the budget (no savings), so such trials rank last."""
    swept = [s for s in final_f1 if s != "random"] or ["random"]
    finite = [savings[s] for s in swept if math.isfinite(savings.get(s, math.nan))]
    reached = [needs[s] for s in swept if needs.get(s) is not None]
    return {"al/label_savings_vs_random": max(finite) if finite else 0.0,
            "al/reached_target": float(bool(reached)),
            "al/final_f1": float(np.mean([final_f1[s] for s in swept])),
            **({"al/labels_to_target": float(min(reached))} if reached else {})}


def encode_once(cfg: ArcadeConfig, data_path: Path) -> None:
    """Encode the dataset into the work dir's feature cache before any trial starts: a trial's
    placement group holds the CPUs that Ray Data's encoding tasks would wait for."""
    a = cfg.active
    encoder = resolve_encoder(a.encoder, a.view, cfg.pretrain.feature_dim, cfg.seed)
    load_features(data_path, encoder, Path(cfg.runtime.work_dir) / "active" / "features")


def active_trial(params: dict[str, Any], base: ArcadeConfig, data_path: str) -> None:
    mlflow.set_tracking_uri(tracking.tracking_uri(base))  # the encoder alias resolves there
    cfg = trial_config(base, params)
    # Its own process: the flow run's pins go with it, so the trial resolves the encoder
    # version `encode_once` encoded the dataset with, not whatever the alias names now.
    with pinned(cfg.runtime.pins):
        ctx = prepare_active(cfg, Path(data_path), run_id=None)
    states = {}
    for strategy in cfg.active.strategies:
        state = start_state(ctx, strategy)
        while not state.done:  # run_round logs each round's progress
            state = run_round(ctx, state)
        states[strategy] = state
    result = finish_active(ctx, states)
    final = {s: ctx.target_f1(st.history[-1].f1) for s, st in states.items()}
    metrics = trial_metrics(result.savings, result.labels_to_target, final)
    log.info("tune trial %s: %s", params, metrics)
    # One report: Tune checks every report for the objective, known only at the end. So
    # ASHA and PBT, which act on per-iteration reports, are refused for target=active.
    tune.report(metrics | {"al/full_data_f1": result.full_f1,
                           "al/rounds": sum(len(st.history) for st in states.values())})
