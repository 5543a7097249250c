"""RL on real RLlib + ALE + MLflow: PPO end to end (evaluation, GIF, checkpoints, resume,
registered policy), transfer modes on a registered encoder, REINFORCE, the curriculum, and
the clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
import torch
from mlflow import MlflowClient

from models.encoder import EncoderSpec, build_encoder
from pipelines.core import registry, tracking
from pipelines.core.config import load_config
from pipelines.rl.train import RLError, latest_checkpoint, train_rl

pytestmark = pytest.mark.integration

# Tiny and quick: 2 envs, 128-step batches, no video unless a test asks for one.
FAST = ("rl.iterations=1", "rl.num_env_runners=0", "rl.train_batch_size=128",
        "rl.minibatch_size=64", "rl.evaluation_every=0", "rl.video_max_steps=0",
        "rl.max_episode_steps=60")


def _cfg(tmp_path: Path, *sets: str):
    return load_config("smoke", sets=sets, runtime={
        "work_dir": tmp_path / "work", "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'm.db'}"})


def _train(cfg, resume: bool = False):
    tracking.setup(cfg)
    with tracking.stage_run(cfg, "rl") as run:
        result = train_rl(cfg, resume=resume)
    return result, MlflowClient().get_run(run.info.run_id)


def _register_encoder(spec: EncoderSpec, alias: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    enc = build_encoder(spec)
    with mlflow.start_run():
        version = registry.log_encoder(enc, spec, "encoder", {"method": "test"})
    registry.set_alias(alias, version)
    return enc


def test_ppo_end_to_end_then_resume(tmp_path: Path, ray_local: None) -> None:
    cfg = _cfg(tmp_path, "rl.evaluation_every=2", "rl.video_max_steps=20")
    result, run = _train(cfg)
    assert result.iterations == 2 and result.env_steps >= 2 * 256
    metrics = run.data.metrics
    for key in ("rl/episode_return_mean", "rl/eval_return", "rl/env_steps_per_s",
                "rl/policy_loss", "rl/entropy"):
        assert key in metrics, key
    assert -21 <= metrics["rl/eval_return"] <= 21
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "rl")}
    assert "rl/learning_curve.png" in artifacts
    videos = MlflowClient().list_artifacts(run.info.run_id, "rl/videos")
    assert [v.path for v in videos] == ["rl/videos/eval_iter00002.gif"]
    assert videos[0].file_size > 1000
    assert MlflowClient().list_artifacts(run.info.run_id, "checkpoint")
    # The final policy is registered, loads without unpickling, and plays.
    net, spec, version = registry.load_registered_policy("ppo-scratch")
    assert version == result.policy_version
    assert spec.input_shape == (4, 84, 84)
    assert net.logits(net.features(torch.zeros(1, 4, 84, 84, dtype=torch.uint8))).shape == (1, 6)
    # Resume: one more iteration on top of the checkpoint, in a new run that says so.
    info = latest_checkpoint(cfg)
    assert info["iteration"] == 2
    more = _cfg(tmp_path, "rl.evaluation_every=2", "rl.video_max_steps=0", "rl.iterations=3")
    resumed, run2 = _train(more, resume=True)
    assert resumed.iterations == 3
    assert resumed.env_steps > result.env_steps  # lifetime counters continue
    assert run2.data.tags["arcadelab.resumed_from"] == info["path"]
    assert latest_checkpoint(more)["iteration"] == 3


def test_resume_without_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RLError, match="no RL checkpoint recorded"):
        train_rl(_cfg(tmp_path, *FAST), resume=True)


def test_frozen_keeps_and_finetune_changes_the_pretrained_encoder(tmp_path: Path,
                                                                  ray_local: None) -> None:
    spec = EncoderSpec("nature_cnn", 4, 84, 84, 32)
    cfg = _cfg(tmp_path, *FAST)
    tracking.setup(cfg)
    enc = _register_encoder(spec, "champion")
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    for mode in ("frozen", "finetune"):
        result, run = _train(_cfg(tmp_path, *FAST, f"rl.transfer={mode}"))
        assert run.data.tags["arcadelab.encoder_version"] == "1"
        net, got, _ = registry.load_registered_policy(f"ppo-{mode}")
        assert got == spec
        after = net.encoder.state_dict()
        same = all(torch.equal(before[k], after[k]) for k in before)
        assert same == (mode == "frozen"), mode
        # The heads learn in both modes.
        assert result.env_steps > 0


def test_encoder_that_does_not_fit_the_env_is_refused(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, *FAST, "rl.transfer=frozen", "rl.encoder_alias=full")
    tracking.setup(cfg)
    _register_encoder(EncoderSpec("nature_cnn", 1, 210, 160, 32), "full")
    with tracking.stage_run(cfg, "rl"), pytest.raises(
            RLError, match=r"takes input \(1, 210, 160\), but the policy env gives \(4, 84, 84\)"):
        train_rl(cfg)


def test_missing_encoder_alias_is_a_clear_error(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, *FAST, "rl.transfer=finetune", "rl.encoder_alias=nope")
    tracking.setup(cfg)
    with tracking.stage_run(cfg, "rl"), pytest.raises(RLError, match="arcadelab-encoder@nope"):
        train_rl(cfg)


# up_down: the course's two-action network (0 up, 1 down), played as Pong's RIGHT and LEFT.
@pytest.mark.parametrize(("actions", "outputs"), [("full", 6), ("up_down", 2)])
def test_reinforce_on_the_same_stack(tmp_path: Path, ray_local: None, actions: str,
                                     outputs: int) -> None:
    result, run = _train(_cfg(tmp_path, *FAST, "rl.algorithm=reinforce",
                              f"rl.actions={actions}"))
    assert result.env_steps >= 128
    assert torch.isfinite(torch.tensor(run.data.metrics["rl/policy_loss"]))
    version, tags = registry.resolve("reinforce-scratch", registry.POLICY_MODEL)
    assert version == "1" and tags["actions"] == actions
    net, _, _ = registry.load_registered_policy("reinforce-scratch")
    assert net.policy.out_features == outputs


def test_appo_trains_the_same_module_and_registers_it(tmp_path: Path, ray_local: None) -> None:
    """APPO needs a remote env runner (its learner thread consumes their episodes)."""
    result, run = _train(_cfg(tmp_path, *FAST, "rl.algorithm=appo", "rl.num_env_runners=1",
                              "rl.iterations=2"))
    assert result.env_steps >= 128
    assert torch.isfinite(torch.tensor(run.data.metrics["rl/policy_loss"]))
    version, tags = registry.resolve("appo-scratch", registry.POLICY_MODEL)
    assert tags["algorithm"] == "appo"
    net, _, _ = registry.load_registered_policy(version)
    assert net.policy.out_features == 6


def test_curriculum_promotes_and_reaches_every_env(tmp_path: Path, ray_local: None) -> None:
    # promote_at far below any Pong score: the schedule moves on after each judged iteration.
    cfg = _cfg(tmp_path, *FAST, "rl.iterations=3", "rl.num_env_runners=1",
               "rl.curriculum.tasks=[{frameskip: 4}, {frameskip: 2}]",
               "rl.curriculum.promote_at=-100", "rl.curriculum.min_episodes=1",
               "rl.max_episode_steps=30")
    result, run = _train(cfg)
    assert result.tasks[-1] == 1
    history = MlflowClient().get_metric_history(run.info.run_id, "curriculum/task")
    assert [m.value for m in history][-1] == 1.0


# Per scheduler: the extra settings of a 2-trial smoke sweep (lr 1e-4 vs 5e-4).
SCHEDULERS = {
    "none": ("tune.iterations=1",),
    # Rungs at 1 and 2 of 3 iterations: a trial that trails the other there stops early.
    "asha": ("tune.scheduler=asha", "tune.iterations=3", "tune.grace_period=1"),
    # One env runner makes a trial take both of the session's 2 CPUs, so the two trials take
    # turns: PBT pauses each one at every iteration to its checkpoint and restarts it from
    # there (or from the leader's, when it clones it).
    # (2 iterations: every restart builds a new RLlib algorithm, ~20 s each here.)
    "pbt": ("tune.scheduler=pbt", "tune.iterations=2", "tune.perturbation_interval=1",
            "rl.num_env_runners=1"),
}


@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
def test_tune_sweep_makes_a_run_per_trial(tmp_path: Path, ray_local: None,
                                          scheduler: str) -> None:
    from pipelines.tune.sweep import run_sweep

    cfg = _cfg(tmp_path, *FAST, "tune.params={lr: [0.0001, 0.0005]}", *SCHEDULERS[scheduler])
    tracking.setup(cfg)
    with tracking.flow_run(cfg, "tune", "local") as parent, \
            tracking.stage_run(cfg, "tune", parent, "tune", "local") as run:
        result = run_sweep(cfg, run.info.run_id)
    assert result.trials == 2 and result.scheduler == scheduler
    assert 0.0001 <= result.best_params["lr"] <= 0.0005  # PBT keeps mutations in the grid's range
    client = MlflowClient()
    trials = client.search_runs([parent.info.experiment_id],
                                f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    lrs = sorted(float(t.data.params["lr"]) for t in trials)  # PBT: each trial's final lr
    assert len(lrs) == 2 and all(0.0001 <= lr <= 0.0005 for lr in lrs)
    if scheduler != "pbt":
        assert lrs == [0.0001, 0.0005]
    for t in trials:
        assert t.data.metrics["rl/env_steps_sampled"] >= 128
    tune_run = client.get_run(run.info.run_id)
    assert tune_run.data.metrics["tune/trials"] == 2 and tune_run.data.metrics["tune/errors"] == 0
    assert tune_run.data.params["tune.scheduler"] == scheduler
    best = json.loads(Path(client.download_artifacts(run.info.run_id, "tune/best.json",
                                                     str(tmp_path))).read_text())
    rows = best["trials"]
    assert best["scheduler"] == scheduler and len(rows) == 2
    if scheduler == "asha":
        assert all(1 <= r["iterations"] <= 3 for r in rows)
        assert [r["stopped_early"] for r in rows] == [r["iterations"] < 3 for r in rows]
        assert tune_run.data.metrics["tune/stopped_early"] == result.stopped_early
    if scheduler == "pbt":
        # Restored counters: a trial restarted from a checkpoint continues its iterations
        # (a fresh algorithm would run 2 more and end past 2).
        assert [r["iterations"] for r in rows] == [2, 2]
        assert all(r["rl/env_steps_sampled"] >= 2 * 128 for r in rows)
        assert all(isinstance(r["perturbations"], int) and r["perturbations"] >= 0
                   for r in rows)
        assert tune_run.data.metrics["tune/perturbations"] == sum(r["perturbations"]
                                                                  for r in rows)
        assert list((tmp_path / "work" / "tune").rglob("checkpoint_*"))
