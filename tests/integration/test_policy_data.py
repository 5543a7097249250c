"""Data collected by a registered policy (`data.policy`), its lineage, its clear errors, and
the `policy_data` stage's distribution-shift test, on real ALE, Ray and MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import torch

from models.actor_critic import ActorCritic
from models.encoder import EncoderSpec, build_encoder
from pipelines.core import registry, tracking
from pipelines.core.config import load_config, with_section
from pipelines.data.dataset import DatasetError
from pipelines.data.policy_data import run_policy_data_stage
from pipelines.data.prep import dataset_path, prepare_data

pytestmark = pytest.mark.integration


def _cfg(tmp_path: Path, *sets: str):
    return load_config("smoke", sets=["data.num_tasks=1", "data.steps_per_task=120", *sets],
                       runtime={"work_dir": tmp_path / "work",
                                "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'm.db'}"})


def _register_policy(cfg, frames: int = 4, actions: int = 6, alias: str = "current") -> str:
    torch.manual_seed(0)
    spec = EncoderSpec(arch="small_cnn", in_channels=frames, feature_dim=16)
    net = ActorCritic(build_encoder(spec), spec.feature_dim, actions)
    tracking.setup(cfg)
    with tracking.stage_run(cfg, "rl") as run:
        version = registry.log_policy(net, spec, actions, {"run_id": run.info.run_id,
                                                           "game": cfg.game})
    assert version is not None
    registry.set_alias(alias, version, registry.POLICY_MODEL)
    return version


def test_policy_collects_with_lineage_and_a_moving_alias_never_reuses(
        tmp_path: Path, ray_local: None) -> None:
    cfg = _cfg(tmp_path, "data.policy=current")
    v1 = _register_policy(cfg)
    with tracking.stage_run(cfg, "data") as run:
        first = prepare_data(cfg)
    assert first.manifest.extra["behaviour_policy"] == f"arcadelab-policy@current (v{v1})"
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert tags["arcadelab.behaviour_policy"] == first.manifest.extra["behaviour_policy"]
    assert first.path != dataset_path(with_section(cfg, "data", policy="random"))
    assert set(first.manifest.splits) == {"train", "val", "test"} and first.manifest.rows > 0
    # The version number names the same data; a new version behind the alias, new data.
    assert dataset_path(with_section(cfg, "data", policy=v1)) == first.path
    v2 = _register_policy(cfg)
    assert dataset_path(cfg) != first.path and v2 != v1


@pytest.mark.parametrize(("frames", "actions", "alias", "match"), [
    (4, 6, "nope", r"data.policy: nothing registered as models:/arcadelab-policy@nope"),
    (2, 6, "current", r"reads observations \(2, 84, 84\).*policy view .* \(4, 84, 84\)"),
    (4, 3, "current", r"chooses among 3 actions, but ALE/Pong-v5 has 6"),
])
def test_bad_behaviour_policy_fails_before_any_collection(
        tmp_path: Path, ray_local: None, frames: int, actions: int, alias: str,
        match: str) -> None:
    cfg = _cfg(tmp_path, f"data.policy={alias}")
    _register_policy(cfg, frames, actions)
    with tracking.stage_run(cfg, "data"), pytest.raises(DatasetError, match=match):
        prepare_data(cfg)
    assert not (cfg.runtime.work_dir / "datasets").exists()  # nothing collected or written


def test_policy_data_stage_scores_probes_on_the_policy_frames(
        tmp_path: Path, smoke_dataset) -> None:
    _, random_data = smoke_dataset
    cfg = _cfg(tmp_path, "pretrain.methods=[atc]")
    version = _register_policy(cfg)
    torch.manual_seed(1)
    enc_spec = EncoderSpec(feature_dim=cfg.pretrain.feature_dim)
    with tracking.stage_run(cfg, "pretrain"):
        atc = registry.log_encoder(build_encoder(enc_spec), enc_spec, "encoder", {})
    registry.set_alias("atc", atc)
    with tracking.stage_run(cfg, "policy_data") as run:
        res = run_policy_data_stage(cfg, random_data.path)
    assert res.policy_version == version
    # supervised is not registered here: skipped with a warning, the others measured.
    assert set(res.probes.encoder) == {"random", "atc"}
    assert res.probes[["f1_in_distribution", "f1_shift"]].stack().between(0, 1).all()
    metrics = mlflow.get_run(run.info.run_id).data.metrics
    assert {"probe/shift/random/mean_f1", "probe/shift/atc/in_distribution_mean_f1"} <= set(
        metrics)
    arts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id,
                                                                  "probe/shift")}
    assert {"probe/shift/shift.csv", "probe/shift/shift_f1.png"} <= arts
