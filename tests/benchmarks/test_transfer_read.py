"""benchmarks/transfer.py's read side: steps-to-return per arm and the MLflow comparison run."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import transfer  # benchmarks/ is a script dir, put on the path above


def _rows() -> pd.DataFrame:
    steps = [50_000, 100_000, 150_000, 200_000]
    arms = {("scratch", None, 0): [-21, -5, 12, 19], ("scratch", None, 1): [-21, -21, 5, 20],
            ("finetune", 1.0, 0): [-10, 19, 18, 18.5], ("frozen", None, 0): [-21, -20, -9, 2]}
    return pd.DataFrame([{"mode": m, "finetune_lr_scale": f, "seed": seed, "env_steps": s,
                          "eval_return": r}
                         for (m, f, seed), rs in arms.items() for s, r in zip(steps, rs,
                                                                               strict=True)])


def test_steps_to_return_per_seed_and_on_the_mean_curve() -> None:
    m = transfer.comparison_metrics(_rows())
    assert m["transfer/scratch/s0/steps_to_return_10"] == 150_000
    assert m["transfer/scratch/s1/steps_to_return_10"] == 200_000
    # Mean of the two scratch seeds: -21, -13, 8.5, 19.5.
    assert m["transfer/scratch/steps_to_return_0"] == 150_000
    assert m["transfer/scratch/holds_18_from"] == 200_000
    assert m["transfer/finetune_encoder_lr_x1/holds_18_from"] == 100_000
    assert m["transfer/frozen/s0/steps_to_return_0"] == 200_000
    # A threshold never reached has no metric (not a made-up number).
    assert "transfer/frozen/s0/steps_to_return_10" not in m
    assert "transfer/frozen/holds_18_from" not in m


def test_the_comparison_is_one_mlflow_run_with_the_chart(tmp_path: Path) -> None:
    df = _rows()
    png = tmp_path / "curves.png"
    transfer.plot(df, png)
    run_id = transfer.log_comparison(tmp_path, df, png)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert run.data.metrics["transfer/scratch/steps_to_return_10"] == 200_000
    names = {a.path for a in client.list_artifacts(run_id, "transfer")}
    assert names == {"transfer/curves.png", "transfer/transfer.csv"}
    assert (tmp_path / "mlartifacts").is_dir()  # beside the store, not in the working dir
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    assert not exp.name.startswith("arcadelab/")  # `arcadelab status` lists those as flows
    assert transfer.log_comparison(tmp_path, df, png) != run_id  # a second read: a second run
