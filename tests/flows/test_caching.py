"""Stage cache keys and the transient-or-permanent judgement of failures (unit level), and
Prefect's real retries with the options every stage runs under (a real dead Ray actor, a real
HTTP server answering 5xx to MLflow's real client)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pyarrow as pa
import pytest
import ray
from mlflow.exceptions import MlflowException

from flows.caching import (
    code_digest,
    is_transient,
    stage_cache_key,
    stage_options,
    unusable_files,
)
from pipelines.core.config import ArcadeConfig, load_config
from pipelines.data.dataset import MANIFEST, DatasetWriter, Manifest
from pipelines.data.policy_data import PolicyDataResult
from pipelines.data.prep import DataResult


def cfg(*sets: str, uri: str = "sqlite:////tmp/x.db") -> ArcadeConfig:
    return load_config("smoke", sets=sets, runtime={"work_dir": Path("/tmp/w"),
                                                    "mlflow_tracking_uri": uri})


def test_key_is_stable_and_follows_what_the_stage_can_see() -> None:
    base = stage_cache_key("data", cfg(), ())
    assert base == stage_cache_key("data", cfg(), ())
    # A later stage's section does not touch the data stage ...
    assert stage_cache_key("data", cfg("rl.iterations=7"), ()) == base
    # ... but its own section, the seed, and the store do.
    assert stage_cache_key("data", cfg("data.steps_per_task=301"), ()) != base
    assert stage_cache_key("data", cfg("seed=1"), ()) != base
    assert stage_cache_key("data", cfg(uri="sqlite:////tmp/y.db"), ()) != base
    # A stage sees the sections of the stages that ran before it.
    rl = stage_cache_key("rl", cfg(), ("data",))
    assert stage_cache_key("rl", cfg("data.steps_per_task=301"), ("data",)) != rl
    assert stage_cache_key("rl", cfg("data.steps_per_task=301"), ()) == stage_cache_key(
        "rl", cfg(), ())
    assert stage_cache_key("rl", cfg(), ()) != rl
    # Runtime settings (where things run) do not change results.
    assert stage_cache_key("data", cfg("runtime.num_cpus=1"), ()) == base


def test_a_section_no_stage_of_the_run_reads_re_runs_nothing() -> None:
    """Only what a stage's registry entry declares joins its key: the probe section is the
    pretrain stage's input, the tune section only the sweep's."""
    for stage, upstream in (("data", ()), ("rl", ("data",)), ("gan", ("data",))):
        base = stage_cache_key(stage, cfg(), upstream)
        assert stage_cache_key(stage, cfg("tune.num_samples=3"), upstream) == base, stage
        assert stage_cache_key(stage, cfg("probe.patience=7"), upstream) == base, stage
    pretrain = stage_cache_key("pretrain", cfg(), ("data",))
    assert stage_cache_key("pretrain", cfg("probe.patience=7"), ("data",)) != pretrain
    tune = stage_cache_key("tune", cfg(), ())
    assert stage_cache_key("tune", cfg("tune.num_samples=3"), ()) != tune


def test_code_digest_covers_the_package_sources() -> None:
    root = Path(__file__).resolve().parents[2]
    assert len(code_digest()) == 16
    assert (root / "flows" / "caching.py").read_bytes()  # part of what is hashed


def test_stage_options_cache_under_the_work_dir_and_honour_reuse() -> None:
    opts = stage_options(cfg(), "k")
    assert opts["result_storage"] == Path("/tmp/w/cache").resolve()
    assert opts["refresh_cache"] is False and opts["persist_result"] is True
    assert opts["retries"] == 2
    assert stage_options(cfg("runtime.reuse_stages=false"), "k")["refresh_cache"] is True
    # Exponential backoff from the configured first delay.
    assert opts["retry_delay_seconds"](3) == [10.0, 20.0, 40.0]

def test_policy_transfer_key_follows_the_version_behind_the_alias(tmp_path: Path) -> None:
    # Its input is the policy behind an alias, not the config: a newly registered policy
    # must be evaluated, not a finished result for the old one reused.
    conf = cfg(uri=f"sqlite:///{tmp_path / 'm.db'}")
    key = lambda: stage_cache_key("policy_transfer", conf, ("rl",))  # noqa: E731
    missing = key()
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    client.create_registered_model("arcadelab-policy")
    for _ in range(2):
        version = client.create_model_version("arcadelab-policy", str(tmp_path)).version
    client.set_registered_model_alias("arcadelab-policy", "current", "1")
    first = key()
    assert first != missing and first == key()
    client.set_registered_model_alias("arcadelab-policy", "current", version)
    assert key() != first
    # Other stages do not look at the registry.
    assert stage_cache_key("rl", conf, ()) == stage_cache_key("rl", conf, ())



@pytest.mark.parametrize(("exc", "transient"), [
    (ConnectionResetError("peer reset"), True),
    (TimeoutError("slow"), True),
    (ValueError("bad shard"), False),
    (KeyError("label"), False),
    (RuntimeError("wrapped"), False),
])
def test_plain_exceptions(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_cause_chain_is_followed() -> None:
    try:
        try:
            raise ConnectionRefusedError("mlflow down")
        except ConnectionRefusedError as inner:
            raise RuntimeError("stage failed") from inner
    except RuntimeError as outer:
        assert is_transient(outer)


class _Status(http.server.BaseHTTPRequestHandler):
    status = 503

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"busy")

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def status_server() -> Iterator[tuple[str, type[_Status]]]:
    """A real HTTP server on loopback that answers every request with `status`."""
    handler = type("Handler", (_Status,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


@pytest.mark.parametrize(("status", "transient"), [(503, True), (500, True), (403, False),
                                                    (404, False)])
def test_mlflow_http_status_decides(status_server, monkeypatch: pytest.MonkeyPatch,
                                    status: int, transient: bool) -> None:
    url, handler = status_server
    handler.status = status
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's own retries off
    client = mlflow.MlflowClient(url)
    with pytest.raises(MlflowException) as err:
        client.get_experiment_by_name("arcadelab/data")
    assert is_transient(err.value) is transient


@pytest.mark.integration
def test_prefect_retries_a_dead_actor_but_not_a_bug(ray_local: None, tmp_path: Path) -> None:
    """The options every stage runs under: a real ActorDiedError is retried, then succeeds;
    a ValueError fails after one attempt."""
    from prefect import flow, task
    from prefect.testing.utilities import prefect_test_harness

    @ray.remote(num_cpus=0)
    class Worker:
        def ping(self) -> str:
            return "pong"

    attempts: dict[str, int] = {"flaky": 0, "bug": 0}

    @task
    def flaky() -> str:
        attempts["flaky"] += 1
        actor = Worker.remote()
        if attempts["flaky"] == 1:
            ray.kill(actor)  # the actor dies under the stage, as a crashed worker would
        return ray.get(actor.ping.remote())

    @task
    def bug() -> None:
        attempts["bug"] += 1
        raise ValueError("a permanent problem")

    c = load_config("smoke", sets=["runtime.retry_delay_s=0.5"],
                    runtime={"work_dir": tmp_path})

    @flow
    def stages() -> tuple[str, str]:
        ok = flaky.with_options(**stage_options(c, ""))()
        state = bug.with_options(**stage_options(c, ""))(return_state=True)
        return ok, state.type.value

    with prefect_test_harness(server_startup_timeout=120):
        start = time.perf_counter()
        ok, bug_state = stages()
    assert ok == "pong" and attempts["flaky"] == 2
    assert bug_state == "FAILED" and attempts["bug"] == 1
    assert time.perf_counter() - start < 60



def test_policy_data_and_transfer_keys_follow_what_they_read(tmp_path: Path) -> None:
    """policy_data reads sections of other stages and registered encoders even when run
    alone; rl on a pretrained encoder follows the version behind its alias."""
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    alone = lambda *sets: stage_cache_key("policy_data", cfg(*sets, uri=uri), ())  # noqa: E731
    assert alone() != alone("pretrain.feature_dim=32")  # the frozen features it probes
    assert alone() != alone("rl.frame_stack=2")  # the policy view it checks
    assert alone() == alone("gan.epochs=3")  # a section it never reads
    client = mlflow.MlflowClient(uri)
    client.create_registered_model("arcadelab-encoder")
    first = alone()
    version = client.create_model_version("arcadelab-encoder", str(tmp_path)).version
    client.set_registered_model_alias("arcadelab-encoder", "clip", version)
    assert alone() != first  # a new encoder behind an alias it probes
    finetune = lambda: stage_cache_key("rl", cfg("rl.transfer=finetune",  # noqa: E731
                                                 "rl.encoder_alias=clip", uri=uri), ())
    before = finetune()
    client.set_registered_model_alias(
        "arcadelab-encoder", "clip",
        client.create_model_version("arcadelab-encoder", str(tmp_path)).version)
    assert finetune() != before


# Every stage that loads arcadelab-encoder@<alias>, with the settings under which it does.
ENCODER_CONSUMERS = [
    ("multimodal", ()), ("multitask", ()), ("gan", ()), ("fewshot", ()), ("active", ()),
    ("data_curriculum", ()), ("transfer", ()), ("rl", ("rl.transfer=frozen",)),
    ("rl_curriculum", ("rl.transfer=frozen",)), ("algorithms", ("rl.transfer=finetune",)),
    ("tune", ("tune.target=active",)), ("tune", ("rl.transfer=frozen",))]
# Stages whose random-init fallback encoder is built from pretrain.feature_dim.
FALLBACK_STAGES = ("multimodal", "multitask", "gan", "fewshot", "active", "data_curriculum")


def test_every_encoder_consumer_follows_the_version_behind_its_alias(tmp_path: Path) -> None:
    """A newly registered champion must not reuse results made with the old one."""
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    confs = [(stage, cfg(*sets, uri=uri)) for stage, sets in ENCODER_CONSUMERS]
    keys = lambda: [stage_cache_key(s, c, ("data",)) for s, c in confs]  # noqa: E731
    unregistered = keys()
    client = mlflow.MlflowClient(uri)
    client.create_registered_model("arcadelab-encoder")
    versions = [client.create_model_version("arcadelab-encoder", str(tmp_path)).version
                for _ in range(2)]
    client.set_registered_model_alias("arcadelab-encoder", "champion", versions[0])
    first = keys()
    assert first == keys()
    client.set_registered_model_alias("arcadelab-encoder", "champion", versions[1])
    second = keys()
    for (stage, sets), none, v1, v2 in zip(ENCODER_CONSUMERS, unregistered, first, second,
                                          strict=True):
        assert len({none, v1, v2}) == 3, (stage, sets)
    # 'random' asks the registry for nothing; nor does a scratch RL arm or a CNN trunk.
    blind = [(s, cfg(*sets, uri=uri)) for s, sets in [
        ("gan", ("gan.encoder=random",)), ("rl_curriculum", ()),
        ("multitask", ("multitask.trunk=cnn",)), ("tune", ("tune.target=active",
                                                             "active.encoder=random"))]]
    before = [stage_cache_key(s, c, ("data",)) for s, c in blind]
    client.set_registered_model_alias("arcadelab-encoder", "champion", versions[0])
    assert [stage_cache_key(s, c, ("data",)) for s, c in blind] == before


@pytest.mark.parametrize("stage", FALLBACK_STAGES)
def test_fallback_encoder_size_joins_the_key(stage: str, tmp_path: Path) -> None:
    """Run alone, the stage's random-init encoder is built from pretrain.feature_dim: that
    field joins its key, and only that field of the pretrain section."""
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    key = lambda *sets: stage_cache_key(stage, cfg(*sets, uri=uri), ("data",))  # noqa: E731
    base = key(f"{stage}.encoder=random")
    assert key(f"{stage}.encoder=random", "pretrain.feature_dim=32") != base
    assert key(f"{stage}.encoder=random", "pretrain.arch=small_cnn") == base
    assert key(f"{stage}.encoder=random", "pretrain.epochs=3") == base


def test_stages_key_on_the_sections_they_read_when_run_alone(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    alone = lambda stage, *sets: stage_cache_key(stage, cfg(*sets, uri=uri), ())  # noqa: E731
    # Dataset readers follow the data config that names their dataset.
    for stage in ("pretrain", "gan", "data_curriculum"):
        assert alone(stage, "gan.encoder=random", "data_curriculum.encoder=random") != alone(
            stage, "gan.encoder=random", "data_curriculum.encoder=random",
            "data.steps_per_task=301"), stage
    # The RL experiments train arms made from the rl section.
    for stage in ("rl_curriculum", "algorithms"):
        assert alone(stage) != alone(stage, "rl.lr=0.001"), stage
    assert alone("algorithms") != alone("algorithms", "transfer.return_thresholds=[-5]")
    assert alone("algorithms") == alone("algorithms", "transfer.modes=[scratch]")
    # A CNN trunk builds no frozen encoder: pretrain.feature_dim is not its input.
    assert alone("multitask", "multitask.trunk=cnn") == alone(
        "multitask", "multitask.trunk=cnn", "pretrain.feature_dim=32")
    assert alone("tune") != alone("tune", "rl.train_batch_size=512")
    # Zero-shot transfer plays with the RL stage's preprocessing, and reads nothing else of rl.
    assert alone("policy_transfer") != alone("policy_transfer", "rl.noop_max=5")
    assert alone("policy_transfer") == alone("policy_transfer", "rl.lr=0.001")


def _dataset(path: Path, rows: int = 50) -> DataResult:
    """A two-shard dataset written by the project's own writer, as the data stage returns it."""
    with DatasetWriter(path) as writer:
        for i, split in enumerate(("train", "test")):
            steps = pa.array(range(i * rows, (i + 1) * rows), pa.int64())
            writer.write_shard(pa.table({"step": steps}), split)
        manifest = writer.commit(Manifest(
            format_version=1, name=path.name, game="ALE/Pong-v5", rom="pong",
            rom_sha256="0" * 64, versions={}, config={}, shards=tuple(writer.shards),
            splits={}, labels={}, label_stats=[], low_entropy_labels=(),
            dropped_leaked_frames=0))
    png = path.parent / f"{path.name}-samples.png"
    png.write_bytes(b"png")
    return DataResult(path, manifest, float("nan"), png)


def test_intact_cached_dataset_is_reused(tmp_path: Path) -> None:
    result = _dataset(tmp_path / "ds")
    assert unusable_files(result) == []
    assert unusable_files(PolicyDataResult(result, "1", pd.DataFrame())) == []


def test_truncated_shard_makes_cached_data_unusable(tmp_path: Path) -> None:
    result = _dataset(tmp_path / "ds")
    shard = result.path / result.manifest.shards[0].name
    shard.write_bytes(shard.read_bytes()[:-20])
    problems = unusable_files(result)
    assert len(problems) == 1 and "sha256 mismatch" in problems[0] and str(shard) in problems[0]
    # The same dataset inside another stage's result (policy_data) is checked too.
    assert unusable_files(PolicyDataResult(result, "1", pd.DataFrame())) == problems


def test_edited_checksum_makes_cached_data_unusable(tmp_path: Path) -> None:
    result = _dataset(tmp_path / "ds")
    manifest = result.path / MANIFEST
    manifest.write_text(manifest.read_text().replace(result.manifest.shards[1].sha256,
                                                     "f" * 64))
    problems = unusable_files(result)
    assert len(problems) == 1 and str(result.path / result.manifest.shards[1].name) in problems[0]


@pytest.mark.parametrize("damage", ["unparsable", "deleted", "missing_shard", "other_dataset"])
def test_damaged_or_replaced_dataset_is_unusable(tmp_path: Path, damage: str) -> None:
    result = _dataset(tmp_path / "ds")
    if damage == "unparsable":
        (result.path / MANIFEST).write_text("{not json")
    elif damage == "deleted":
        (result.path / MANIFEST).unlink()
    elif damage == "missing_shard":
        (result.path / result.manifest.shards[0].name).unlink()
    else:  # intact, but not the dataset the cached result describes
        other = _dataset(tmp_path / "other", rows=60)
        result = DataResult(other.path, result.manifest, result.env_steps_per_s,
                            result.samples_png)
    problems = unusable_files(result)
    assert len(problems) == 1, problems
    expected = {"unparsable": MANIFEST, "deleted": MANIFEST,
                "missing_shard": result.manifest.shards[0].name, "other_dataset": MANIFEST}
    assert expected[damage] in problems[0]



def test_a_flow_run_pins_each_alias_to_one_version(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a flow run a consumer uses the version an upstream stage registered, or the one
    its alias named when the run first needed it, even after another run moves the alias."""
    from flows.runner import produced_pins, start_pins
    from flows.stage_registry import stage as stage_spec
    from pipelines.core import registry
    from pipelines.core.model_refs import pin_key, pinned
    from pipelines.pretrain.stage import PretrainStageResult

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)  # the env alone loses to a URI an earlier test set
    client = mlflow.MlflowClient(uri)
    client.create_registered_model("arcadelab-encoder")
    v1, v2, v3 = (str(client.create_model_version("arcadelab-encoder", str(tmp_path)).version)
                  for _ in range(3))
    client.set_registered_model_alias("arcadelab-encoder", "champion", v1)
    conf = cfg(uri=uri)
    gan = stage_spec("gan")
    pins = start_pins(conf, gan.models(conf), {})
    assert pins == {pin_key("arcadelab-encoder", "champion"): v1}
    key_v1 = stage_cache_key("gan", conf, ("data",))
    client.set_registered_model_alias("arcadelab-encoder", "champion", v2)  # another run
    with pinned(pins):
        assert registry.resolve("champion")[0] == v1
        assert registry.resolve(v3)[0] == v3  # a version number is never pinned over
    assert registry.resolve("champion")[0] == v2  # outside the stage: the alias as it is
    # The pinned version is the one the stage's key holds.
    pinned_cfg = conf.model_copy(update={"runtime": conf.runtime.model_copy(
        update={"pins": pins})})
    assert stage_cache_key("gan", pinned_cfg, ("data",)) == key_v1
    assert stage_cache_key("gan", conf, ("data",)) != key_v1
    # A version pretrain registered in this run wins over whatever the alias names.
    done = PretrainStageResult(pd.DataFrame(), pd.DataFrame(), {}, {"champion": v3, "clip": v3},
                               "clip")
    produced = produced_pins(stage_spec("pretrain").produces(conf), done)
    assert produced[pin_key("arcadelab-encoder", "champion")] == v3
    assert start_pins(conf, gan.models(conf), produced) == {}  # already pinned: kept


def test_policy_transfer_uses_the_policy_its_runs_rl_stage_registered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18: after a full pipeline `current` names the REINFORCE arm of `algorithms`, and on
    a re-run `rl` is reused from the cache. The rl result, fresh or reused, pins `current` to
    its own version for the rest of the flow run, so policy_transfer evaluates that one."""
    from flows.runner import produced_pins, start_pins
    from flows.stage_registry import stage as stage_spec
    from pipelines.core import registry
    from pipelines.core.model_refs import POLICY_MODEL, pin_key, pinned
    from pipelines.rl.train import RLResult

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)  # as tracking.setup does in a flow run
    client = mlflow.MlflowClient(uri)
    client.create_registered_model(POLICY_MODEL)
    ppo, reinforce = (str(client.create_model_version(POLICY_MODEL, str(tmp_path)).version)
                      for _ in range(2))
    client.set_registered_model_alias(POLICY_MODEL, "current", reinforce)  # `algorithms`, last
    conf = cfg(uri=uri)
    rl = RLResult(iterations=2, env_steps=512, episode_return_mean=None, eval_return=None,
                  env_steps_per_s=1.0, checkpoint=tmp_path, policy_version=ppo,
                  policy_aliases=("ppo-scratch", "current"))
    pins = produced_pins(stage_spec("rl").produces(conf), rl)
    assert pins[pin_key(POLICY_MODEL, "current")] == ppo
    transfer = stage_spec("policy_transfer")
    assert start_pins(conf, transfer.models(conf), pins) == {}  # rl's pin stands
    with pinned(pins):  # what tracking.stage_run sets around the stage
        assert registry.resolve(conf.policy_transfer.alias, POLICY_MODEL)[0] == ppo
    assert registry.resolve("current", POLICY_MODEL)[0] == reinforce  # outside the run
    # Its cache key follows rl's version too, not the alias's.
    pinned_cfg = conf.model_copy(update={"runtime": conf.runtime.model_copy(
        update={"pins": pins})})
    assert stage_cache_key("policy_transfer", pinned_cfg, ("rl",)) != stage_cache_key(
        "policy_transfer", conf, ("rl",))
