"""Quiet logs: the listed third-party messages are dropped, nothing else is, and the noise whose
cause was ours (untyped pyfunc `predict`, Prefect's API handler outside a flow) is gone."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from pipelines.core import quiet

RLLIB_ENV_ID = "rllib-single-agent-env-v0"  # the id RLlib's env runners re-register


@contextmanager
def _registered_twice(env_id: str) -> Iterator[None]:
    """Register `env_id` twice through gymnasium, as RLlib does; restore the registry after."""
    before = gym.envs.registry.get(env_id)
    try:
        gym.register(env_id, entry_point="gymnasium.envs.classic_control:CartPoleEnv")
        gym.register(env_id, entry_point="gymnasium.envs.classic_control:CartPoleEnv")
        yield
    finally:
        gym.envs.registry.pop(env_id, None)
        if before is not None:
            gym.envs.registry[env_id] = before


def _records(logger: str, emit: Callable[[], None]) -> list[str]:
    """Messages that reach a handler on `logger` (after its filters) while `emit` runs."""
    got: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: got.append(record.getMessage())  # type: ignore[method-assign]
    log = logging.getLogger(logger)
    log.addHandler(handler)
    try:
        emit()
    finally:
        log.removeHandler(handler)
    return got


def test_every_entry_gives_its_reason() -> None:
    for entry in (*quiet.WARNINGS, *quiet.LOGS):
        assert len(entry.reason) > 40, entry


def test_rllib_env_reregistration_is_silenced_but_others_still_warn() -> None:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        quiet.install()  # inside: catch_warnings restores the filters on exit
        with _registered_twice(RLLIB_ENV_ID):
            pass
        assert rec == []
        with _registered_twice("arcadelab-test/Unlisted-v0"):  # not ours to hide
            pass
    assert [str(w.message) for w in rec] == [
        "\x1b[33mWARN: Overriding environment arcadelab-test/Unlisted-v0 already in "
        "registry.\x1b[0m"]


def test_a_listed_message_from_another_module_still_shows() -> None:
    category, gym_module = quiet.WARNINGS[0].category, "gymnasium.envs.registration"
    text = f"\x1b[33mWARN: Overriding environment {RLLIB_ENV_ID} already in registry.\x1b[0m"
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        quiet.install()
        warnings.warn_explicit(text, category, "x.py", 1, module=gym_module)
        warnings.warn_explicit(text + " more", category, "x.py", 1, module=gym_module)
        warnings.warn_explicit(text, category, "x.py", 1, module="somewhere.else")
    assert [(str(w.message), w.filename) for w in rec] == [(text + " more", "x.py"),
                                                           (text, "x.py")]


@pytest.mark.parametrize(("logger", "message"), [
    ("mlflow.pyfunc", "Failed to infer model signature: Type hint <input: <class "
     "'numpy.ndarray'>, output: <class 'numpy.ndarray'>> cannot be used to infer model "
     "signature and input example is not provided, model signature cannot be inferred."),
    ("ray.data._internal.progress", "Progress bars disabled. To enable, set "
     "`ray.data.DataContext.get_current().enable_progress_bars = True`."),
])
def test_listed_log_lines_are_dropped_and_others_pass(logger: str, message: str) -> None:
    quiet.install()
    quiet.install()  # twice: still one filter
    log = logging.getLogger(logger)
    assert log.filters.count(quiet._LOG_FILTER) == 1
    got = _records(logger, lambda: [log.warning(message), log.warning(message + " (new)"),
                                    log.warning("Install psutil to monitor system performance.")])
    assert got == [message + " (new)", "Install psutil to monitor system performance."]
    # The same text from another logger is not ours to drop.
    other = logging.getLogger("arcadelab.test_quiet")
    assert _records(other.name, lambda: other.warning(message)) == [message]


def test_rllib_system_monitor_is_off() -> None:
    """The GPUtil notice is fixed at its source: RLlib's system monitor is off."""
    from agents.ppo import build_algo_config
    from pipelines.core.config import load_config

    cfg = load_config("smoke")
    assert build_algo_config(cfg.game, cfg.rl, cfg.seed).log_sys_usage is False


def _save_encoder(directory: Path) -> dict[str, str]:
    from models.checkpoint import save_encoder
    from models.encoder import EncoderSpec, build_encoder

    spec = EncoderSpec("small_cnn", 1, 84, 84, 8)
    save_encoder(build_encoder(spec), spec, directory / "encoder")
    return {"encoder": str(directory / "encoder")}


def _save_policy(directory: Path) -> dict[str, str]:
    from models.actor_critic import ActorCritic
    from models.encoder import EncoderSpec, build_encoder
    from models.policy_checkpoint import save_policy

    spec = EncoderSpec("small_cnn", 1, 84, 84, 8)
    save_policy(ActorCritic(build_encoder(spec), 8, 6), spec, 6, directory / "policy")
    return {"policy": str(directory / "policy")}


@pytest.mark.parametrize(("code", "artifacts", "out_shape"), [
    ("encoder_model.py", _save_encoder, (2, 8)),
    ("policy_model.py", _save_policy, (2,)),
])
def test_pyfunc_saves_and_loads_without_type_hint_warning(
        tmp_path: Path, code: str, artifacts: Callable[[Path], dict[str, str]],
        out_shape: tuple[int, ...]) -> None:
    """Typed `predict`: no "Add type hints" warning at save or load, and the model still has
    no signature (predict takes the uint8 frames as before); MLflow's log line about the
    missing signature is one quiet.LOGS names."""
    import mlflow

    code_path = str(Path(quiet.__file__).with_name(code))
    logging.getLogger("mlflow.pyfunc").removeFilter(quiet._LOG_FILTER)  # see what MLflow says
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        logged = _records("mlflow.pyfunc", lambda: mlflow.pyfunc.save_model(
            tmp_path / "model", python_model=code_path, artifacts=artifacts(tmp_path),
            pip_requirements=["numpy"]))
        model = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    assert [str(w.message) for w in rec if "type hint" in str(w.message).lower()] == []
    assert model.metadata.signature is None
    assert model.predict(np.zeros((2, 1, 84, 84), np.uint8)).shape == out_shape
    # One line, the listed one: a reworded or new MLflow message fails here, not in the logs.
    assert len(logged) == 1, logged
    assert not quiet._LOG_FILTER.filter(logging.makeLogRecord(
        {"name": "mlflow.pyfunc", "msg": logged[0]}))


def test_arcadelab_logs_before_a_flow_run_without_prefect_warning(tmp_path: Path) -> None:
    """`flows` tells Prefect that arcadelab lines outside a flow run are expected (the CLI logs
    its Ray line before the flow starts): the line prints, Prefect does not warn."""
    script = (
        "import logging, flows\n"
        "from prefect import flow\n"
        "log = logging.getLogger('arcadelab')\n"
        "print(sorted(type(h).__name__ for h in log.handlers))\n"
        "log.warning('before any flow run')\n"
    )
    env = {k: v for k, v in os.environ.items()
           if k != "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"}
    env["PREFECT_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-W", "always", "-c", script], env=env,
                         cwd=Path(__file__).parents[3],
                         capture_output=True, text=True, timeout=120, check=True)
    assert "APILogHandler" in out.stdout  # Prefect's API handler is on the logger...
    assert "before any flow run" in out.stdout + out.stderr
    assert "without a flow run id" not in out.stdout + out.stderr  # ...and stays quiet


@pytest.mark.parametrize(("tty", "quiet_env", "shown"), [
    (False, None, False), (True, None, True), (True, "1", False)])
def test_ray_data_shows_its_progress_on_a_terminal_only(
        tty: bool, quiet_env: str | None, shown: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Off a terminal Ray Data would log a line per operator every few seconds."""
    import ray.data

    from pipelines.core.progress import QUIET_ENV
    from pipelines.core.runtime import ray_data_progress

    ctx = ray.data.DataContext.get_current()
    monkeypatch.setattr(ctx, "enable_progress_bars", ctx.enable_progress_bars)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    if quiet_env is None:
        monkeypatch.delenv(QUIET_ENV, raising=False)
    else:
        monkeypatch.setenv(QUIET_ENV, quiet_env)
    assert ray_data_progress() is shown
    assert ctx.enable_progress_bars is shown
