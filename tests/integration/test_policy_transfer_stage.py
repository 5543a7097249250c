"""Zero-shot policy transfer on real ALE + MLflow: a registered policy evaluated on Pong's
variants, the metrics, chart and table read back through the client; a missing alias is a
clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from models.actor_critic import ActorCritic
from models.encoder import EncoderSpec, build_encoder
from pipelines.core import registry, tracking
from pipelines.core.config import ArcadeConfig, load_config
from pipelines.rl.policy_transfer import PolicyTransferError, run_policy_transfer_stage

pytestmark = pytest.mark.integration

# 4 variants x 1 episode x 30 agent steps.
FAST = ("policy_transfer.modes=[0, 1]", "policy_transfer.difficulties=[0, 3]",
        "policy_transfer.max_episode_steps=30")


def _cfg(tmp_path: Path, *sets: str) -> ArcadeConfig:
    return load_config("smoke", sets=(*FAST, *sets), runtime={
        "work_dir": tmp_path / "work", "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'm.db'}"})


def _register_policy(cfg: ArcadeConfig) -> str:
    """A tiny random policy registered as `current` from a stage run of `cfg`, as the rl stage
    registers its own (tags: run, game), so its config.yaml says what it trained on."""
    torch.manual_seed(0)
    spec = EncoderSpec("small_cnn", 4, 84, 84, 16)
    net = ActorCritic(build_encoder(spec), spec.feature_dim, 6)
    tracking.setup(cfg)
    with tracking.stage_run(cfg, "rl") as run:
        version = registry.log_policy(net, spec, 6, {"run_id": run.info.run_id,
                                                     "game": cfg.game})
    assert version is not None
    registry.set_alias("current", version, registry.POLICY_MODEL)
    return version


def test_stage_logs_every_variant_seen_and_unseen(tmp_path: Path) -> None:
    # Trained (as far as its config says) on a curriculum ending on difficulty 3.
    trained = _cfg(tmp_path, "rl.env_backend=gymnasium",
                   "rl.curriculum.tasks=[{difficulty: 3}]")
    version = _register_policy(trained)
    cfg = _cfg(tmp_path)
    with tracking.stage_run(cfg, "policy_transfer") as run:
        result = run_policy_transfer_stage(cfg, trained_version=version)
    assert result.policy_version == version
    assert [(r.key, r.seen) for r in result.variants] == [
        ("m0_d0", False), ("m0_d3", True), ("m1_d0", False), ("m1_d3", False)]

    client = MlflowClient()
    logged = client.get_run(run.info.run_id).data
    prefix = "fewshot/policy"
    for r in result.variants:
        assert logged.metrics[f"{prefix}/{r.key}/return"] == pytest.approx(r.mean)
        assert logged.metrics[f"{prefix}/{r.key}/episodes"] == 1
    assert logged.metrics[f"{prefix}/seen_return"] == logged.metrics[f"{prefix}/m0_d3/return"]
    unseen = [logged.metrics[f"{prefix}/{k}/return"] for k in ("m0_d0", "m1_d0", "m1_d3")]
    assert logged.metrics[f"{prefix}/unseen_return_mean"] == pytest.approx(sum(unseen) / 3)
    assert logged.params["policy.version"] == version
    assert logged.params["policy.seen"] == "m0_d3"
    assert logged.tags["arcadelab.policy_version"] == version

    artifacts = {a.path: a for a in client.list_artifacts(run.info.run_id, "fewshot")}
    assert artifacts["fewshot/policy_transfer.png"].file_size > 5000
    png = Path(client.download_artifacts(run.info.run_id, "fewshot/policy_transfer.png",
                                         str(tmp_path)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = json.loads(Path(client.download_artifacts(
        run.info.run_id, "fewshot/policy_transfer.json", str(tmp_path))).read_text())
    assert table["version"] == version
    assert [row["variant"] for row in table["variants"]] == ["m0_d0", "m0_d3", "m1_d0", "m1_d3"]
    assert all(len(row["returns"]) == 1 and row["steps"][0] <= 30 for row in table["variants"])


def test_missing_alias_is_a_clear_error(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "policy_transfer.alias=nope")
    tracking.setup(cfg)
    with pytest.raises(PolicyTransferError,
                       match=r"policy_transfer.alias: .*models:/arcadelab-policy@nope"):
        run_policy_transfer_stage(cfg)


def test_policy_of_another_input_shape_is_refused(tmp_path: Path) -> None:
    version = _register_policy(_cfg(tmp_path))
    cfg = _cfg(tmp_path, "rl.frame_stack=2")
    with pytest.raises(PolicyTransferError, match=rf"version {version}\) takes input "
                       r"\(4, 84, 84\), but the policy env gives \(2, 84, 84\)"):
        run_policy_transfer_stage(cfg)
