"""RL tune trials with `rl.transfer` frozen or finetune start from the registry encoder, the
version the sweep's flow run pinned (issue 18: no encoder reached the trial, so every such
trial failed). A real MLflow registry on a temporary SQLite file; the trial stops where it
would build the RLlib algorithm, so no Ray starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pytest
import torch

from models.encoder import EncoderSpec, build_encoder
from pipelines.core import registry
from pipelines.core.config import ArcadeConfig, load_config
from pipelines.core.model_refs import ENCODER_MODEL, pin_key
from pipelines.tune import rl_trials

pytestmark = pytest.mark.integration

SPEC = EncoderSpec("small_cnn", 4, 84, 84, 32)  # the RL env's 4x84x84 observations


class Built(Exception):
    """Raised where the trial would build its algorithm, carrying what it was given."""

    def __init__(self, encoder: Any) -> None:
        super().__init__("built")
        self.encoder = encoder


def _register(seed: int, experiment_id: str) -> tuple[str, torch.nn.Module]:
    torch.manual_seed(seed)
    enc = build_encoder(SPEC)
    with mlflow.start_run(experiment_id=experiment_id):
        version = registry.log_encoder(enc, SPEC, "encoder", {"method": "test"})
    assert version is not None
    registry.set_alias("champion", version)
    return version, enc


def _cfg(tmp_path: Path, uri: str, *sets: str, pins: dict[str, str] | None = None
         ) -> ArcadeConfig:
    cfg = load_config("smoke", sets=sets, runtime={"work_dir": tmp_path / "work",
                                                   "mlflow_tracking_uri": uri})
    return cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"pins": pins or {}})})


def test_a_scratch_trial_loads_no_encoder() -> None:
    assert rl_trials.trial_encoder(load_config("smoke")) is None


@pytest.mark.parametrize("transfer", ["frozen", "finetune"])
def test_a_transfer_trial_starts_from_the_pinned_registry_encoder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transfer: str) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("enc", artifact_location=str(tmp_path / "artifacts"))
    v1, enc1 = _register(0, exp)
    v2, _ = _register(1, exp)  # another run moves the alias after the sweep pinned v1
    base = _cfg(tmp_path, uri, f"rl.transfer={transfer}",
                pins={pin_key(ENCODER_MODEL, "champion"): v1})
    assert registry.resolve("champion")[0] == v2 != v1

    def build(cfg: ArcadeConfig, encoder: Any, state: Any) -> None:
        raise Built(encoder)

    monkeypatch.setattr(rl_trials, "build_algorithm", build)
    monkeypatch.setattr(rl_trials.tune, "get_checkpoint", lambda: None)  # a fresh trial
    with pytest.raises(Built) as built:
        rl_trials.rl_trial({"lr": 1e-4}, base)
    assert built.value.encoder is not None, "no encoder reached the trial"
    spec, weights = built.value.encoder
    assert spec == SPEC
    expected = enc1.state_dict()
    assert weights.keys() == expected.keys()
    assert all(torch.equal(weights[k], expected[k]) for k in expected)  # v1's, not v2's


def test_a_transfer_trial_without_an_encoder_fails_naming_the_field(tmp_path: Path) -> None:
    from pipelines.rl.train import RLError

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    mlflow.set_tracking_uri(uri)
    with pytest.raises(RLError, match=r"rl\.transfer=frozen"):
        rl_trials.trial_encoder(_cfg(tmp_path, uri, "rl.transfer=frozen"))
