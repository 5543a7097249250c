"""Fault: an RLlib env runner actor is killed mid-training. RLlib recreates it
(`fault_tolerance`), training goes on, the restart shows in the metrics, and the curriculum
callback puts the new env runner back on the current task."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.core.config import load_config

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

FAST = ("rl.iterations=1", "rl.num_env_runners=1", "rl.train_batch_size=128",
        "rl.minibatch_size=64", "rl.evaluation_every=0", "rl.video_max_steps=0")


def _cfg(tmp_path: Path, *sets: str):
    return load_config("smoke", sets=sets, runtime={
        "work_dir": tmp_path / "work", "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'm.db'}"})


def test_killed_env_runner_is_restarted_and_gets_the_curriculum_task(tmp_path: Path,
                                                                 ray_local: None) -> None:
    import ray

    from pipelines.rl.train import _curriculum_state, build_algorithm

    cfg = _cfg(tmp_path, *FAST, "rl.num_env_runners=1",
               "rl.curriculum.tasks=[{frameskip: 4}, {frameskip: 2}]",
               "rl.curriculum.promote_at=-100", "rl.curriculum.min_episodes=1",
               "rl.max_episode_steps=30")
    algo = build_algorithm(cfg, None, _curriculum_state(cfg))

    def skips() -> list[int]:
        return algo.env_runner_group.foreach_env_runner(
            lambda er: er.config.env_config["frameskip"], local_env_runner=False)

    try:
        assert skips() == [4]
        while algo.train()["curriculum"]["task"] != 1:
            pass
        assert skips() == [2]
        # Kill the env runner actor: RLlib restarts it from the algorithm's config (task 0)
        # and the curriculum callback puts it back on the current task.
        ray.kill(algo.env_runner_group._worker_manager._actors[1], no_restart=False)
        result = algo.train()
        while result["curriculum"]["reapplied"] == 0:
            result = algo.train()
        assert result["health"]["env_runner_restarts"] >= 1
        assert result["health"]["env_runners_healthy"] == 1
        assert skips() == [2]
    finally:
        algo.stop()
