"""End to end: `arcadelab pipeline --preset smoke` as a user runs it (own process, ephemeral
Prefect, local Ray, SQLite MLflow), then everything read back through the MLflow client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from pipelines.core.config import load_config

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

# Credentials a user has in the environment: they must never reach MLflow.
SECRETS = {"AWS_SECRET_ACCESS_KEY": "s3cr3t-aws-9f2c",
           "MLFLOW_TRACKING_PASSWORD": "s3cr3t-mlf-41ab", "DATABASE_PASSWORD": "s3cr3t-db-77de"}


def test_smoke_pipeline_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "work"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), **SECRETS}
    for var in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "PREFECT_API_URL"):
        env.pop(var, None)
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "pipeline", "--preset", "smoke",
         "--work-dir", str(work)],
        capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    # Progress (pipelines/core/progress.py): plain lines, as stdout is not a terminal here.
    assert "data: rollout task 2/2 (100%)" in out and "rl: iter 2/2 (100%)" in out
    assert "pretrain: champion is" in out
    assert "mlflow ui --backend-store-uri" in out

    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    exp = client.get_experiment_by_name("arcadelab/pipeline")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    children = {r.data.tags["arcadelab.stage"]: r for r in runs
                if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert set(children) == set(load_config("smoke").pipeline.stages)

    # Secrets scan: no credential from the environment in any param, tag or config.yaml.
    for run in runs:
        logged = [*run.data.params.values(), *run.data.tags.values()]
        if "config.yaml" in {a.path for a in client.list_artifacts(run.info.run_id)}:
            logged.append(Path(client.download_artifacts(run.info.run_id, "config.yaml",
                                                         str(tmp_path))).read_text())
        for secret in SECRETS.values():
            assert not any(secret in str(v) for v in logged), f"{secret} leaked in {run.info}"

    flow_run_id = parent.data.tags["arcadelab.flow_run_id"]
    assert len(flow_run_id) == 36  # a Prefect UUID
    for run in [parent, *children.values()]:
        tags = run.data.tags
        assert tags["arcadelab.flow_run_id"] == flow_run_id
        assert len(tags["arcadelab.config_hash"]) == 12
        assert tags["arcadelab.git_sha"]
        assert run.data.params["rl.iterations"] == "2"
        assert run.info.status == "FINISHED"
        assert "config.yaml" in {a.path for a in client.list_artifacts(run.info.run_id)}

    data, rl = children["data"], children["rl"]
    assert data.data.metrics["data/rows"] > 0
    assert data.inputs.dataset_inputs
    assert rl.data.metrics["rl/env_steps_sampled"] >= 2 * 256
    assert rl.data.metrics["rl/env_steps_per_s"] > 0
    history = client.get_metric_history(rl.info.run_id, "rl/env_steps_sampled")
    assert len(history) == 2  # one point per iteration
    ckpt = {a.path for a in client.list_artifacts(rl.info.run_id, "checkpoint")}
    assert ckpt, "checkpoint artifact missing"
    assert -21 <= rl.data.metrics["rl/eval_return"] <= 21
    assert client.list_artifacts(rl.info.run_id, "rl/videos"), "no gameplay GIF"
    policy = client.get_registered_model("arcadelab-policy")
    assert {"ppo-scratch", "ppo-frozen", "ppo-finetune", "reinforce-scratch"} <= set(
        policy.aliases)

    # Zero-shot policy transfer: the rl stage's policy (registered just before it) played on
    # all 8 Pong variants, the default one seen, the other 7 zero-shot.
    pt = children["policy_transfer"]
    rl_policy = client.search_model_versions(
        f"name='arcadelab-policy' and run_id='{rl.info.run_id}'")
    assert pt.data.tags["arcadelab.policy_version"] == str(rl_policy[0].version)
    assert len(pt.data.params["policy.variants"].split(",")) == 8
    assert pt.data.params["policy.seen"] == "m0_d0"
    for key in ("m0_d0/return", "m1_d3/return", "seen_return", "unseen_return_mean"):
        assert -21 <= pt.data.metrics[f"fewshot/policy/{key}"] <= 21
    assert {"fewshot/policy_transfer.png", "fewshot/policy_transfer.json"} <= {
        a.path for a in client.list_artifacts(pt.info.run_id, "fewshot")}

    # The shift test: data played by the rl stage's own policy, probes scored on it.
    pdata = children["policy_data"]
    assert pdata.data.tags["arcadelab.behaviour_policy_version"] == str(rl_policy[0].version)
    for enc in ("random", "stdim", "supervised"):
        assert 0 <= pdata.data.metrics[f"probe/shift/{enc}/mean_f1"] <= 1

    # RL experiments: one nested run per arm and the comparison in the experiment's run.
    for stage, arms in (("transfer", ("scratch", "frozen", "finetune")),
                        ("rl_curriculum", ("curriculum", "no_curriculum", "uniform_mix")),
                        ("algorithms", ("ppo", "reinforce"))):
        exp_run = children[stage]
        arm_runs = {r.data.tags["arcadelab.stage"] for r in runs
                    if r.data.tags.get("mlflow.parentRunId") == exp_run.info.run_id}
        assert arm_runs == {f"{stage}-{a}" for a in arms}
        curves = {a.path for a in client.list_artifacts(exp_run.info.run_id, stage)}
        assert f"{stage}/{stage}_curves.png" in curves
        assert any(k.startswith(f"{stage}/") for k in exp_run.data.metrics)
    frozen = next(r for r in runs if r.data.tags.get("arcadelab.stage") == "transfer-frozen")
    champion_version = client.get_model_version_by_alias("arcadelab-encoder", "champion").version
    assert frozen.data.tags["arcadelab.encoder_version"] == str(champion_version)
    assert (work / "datasets").is_dir()

    # Pretraining: a nested run per (view, encoder) in the same experiment, probes side by
    # side, encoders registered with per-method aliases and a champion.
    pre = children["pretrain"]
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == pre.info.run_id]
    seen = {(r.data.tags["arcadelab.method"], r.data.tags["arcadelab.view"]) for r in nested}
    methods = {"random", "autoencoder", "atc", "clip", "stdim", "supervised"}
    assert seen == {(m, v) for m in methods for v in ("stack84", "full")}
    for r in nested:
        assert r.data.tags["arcadelab.flow_run_id"] == flow_run_id
        assert r.data.tags["arcadelab.dataset"] == data.data.tags["arcadelab.dataset"]
        method, view = r.data.tags["arcadelab.method"], r.data.tags["arcadelab.view"]
        assert 0 <= r.data.metrics[f"probe/{view}/{method}/mean_f1"] <= 1
    by_key = {(r.data.tags["arcadelab.method"], r.data.tags["arcadelab.view"]): r for r in nested}
    # The supervised model's own heads, scored on test beside the re-probe of its features.
    for view in ("stack84", "full"):
        sup = by_key[("supervised", view)].data.metrics
        assert 0 <= sup[f"probe/{view}/supervised_heads/mean_f1"] <= 1
    clip = by_key[("clip", "stack84")]
    assert "pretrain/stack84/clip/frame_to_ram_recall_at_5" in clip.data.metrics
    ae = by_key[("autoencoder", "stack84")]
    recon = client.list_artifacts(ae.info.run_id, "pretrain/stack84/autoencoder/reconstructions")
    assert recon, "no reconstruction grid logged"
    report = {a.path for a in client.list_artifacts(pre.info.run_id, "probe/stack84")}
    assert {"probe/stack84/probes.csv", "probe/stack84/probes.md", "probe/stack84/probe_f1.png",
            "probe/stack84/few_shot.png"} <= report
    model = client.get_registered_model("arcadelab-encoder")
    assert {"champion", "atc", "clip", "stdim", "autoencoder", "atc-full"} <= set(model.aliases)
    champion = client.get_model_version_by_alias("arcadelab-encoder", "champion")
    assert champion.tags["arcadelab.dataset"] == data.data.tags["arcadelab.dataset"]
    assert champion.tags["arcadelab.view"] == "stack84"
