"""Curriculum over game variants (Bengio et al. 2009, applied to RL tasks): a pure schedule
that promotes to the next task when the recent return is high and demotes when it is low, and
the RLlib callbacks that apply the current task to every env runner, including env runners
that RLlib recreates after a failure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from ray.rllib.env.env_runner import EnvRunner


@dataclass(frozen=True)
class Schedule:
    """Thresholds of the curriculum; `demote_at=None` never demotes."""

    num_tasks: int
    promote_at: float
    demote_at: float | None = None
    min_episodes: int = 5


def next_task(index: int, mean_return: float | None, episodes_on_task: int,
              schedule: Schedule) -> int:
    """The task to train on next. Pure: same inputs, same answer.

    A task changes only after `min_episodes` episodes on it (a mean over fewer is noise);
    then a mean return >= `promote_at` moves one task up (not past the last), and one
    <= `demote_at` moves one task down (not below the first).
    """
    if not 0 <= index < schedule.num_tasks:
        raise ValueError(f"task index {index} outside 0..{schedule.num_tasks - 1}")
    if mean_return is None or episodes_on_task < schedule.min_episodes:
        return index
    if mean_return >= schedule.promote_at:
        return min(index + 1, schedule.num_tasks - 1)
    if schedule.demote_at is not None and mean_return <= schedule.demote_at:
        return max(index - 1, 0)
    return index


def _finite(x: Any) -> float | None:
    # RLlib reports NaN (or nothing) for iterations without finished episodes.
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _set_task(env_runner: EnvRunner, env_config: dict[str, Any]) -> None:
    # Rebuild the env with the new variant (RLlib's curriculum recipe): the runner's config is
    # its own copy, so a restarted runner starts from the algorithm's config and is re-applied
    # by `on_env_runners_recreated` below.
    env_runner.config.environment(env_config=env_config)
    env_runner.make_env()


class CurriculumState:
    """Where the curriculum stands, kept on the driver (the algorithm object)."""

    def __init__(self, base_env_config: dict[str, Any], tasks: Sequence[dict[str, int]],
                 schedule: Schedule):
        self.base = dict(base_env_config)
        self.tasks = [dict(t) for t in tasks]
        self.schedule = schedule
        self.index = 0
        self.episodes = 0
        self.return_sum = 0.0
        self.reapplied = 0

    def env_config(self) -> dict[str, Any]:
        return {**self.base, **self.tasks[self.index]}

    def target_env_config(self) -> dict[str, Any]:
        """The last task: what the curriculum prepares for, and what evaluation plays."""
        return {**self.base, **self.tasks[-1]}

    def observe(self, episodes: int, mean_return: float | None) -> bool:
        """Add one iteration's episodes; returns True when the task changed."""
        if episodes > 0 and mean_return is not None:
            self.episodes += episodes
            self.return_sum += episodes * mean_return
        mean = self.return_sum / self.episodes if self.episodes else None
        new = next_task(self.index, mean, self.episodes, self.schedule)
        if new == self.index:
            return False
        self.index, self.episodes, self.return_sum = new, 0, 0.0
        return True


def callbacks(state: CurriculumState) -> dict[str, Callable[..., None]]:
    """`AlgorithmConfig.callbacks(**callbacks(state))`: apply and re-apply the current task.

    The algorithm starts on `state.env_config()` (its env_config); these switch tasks after
    training iterations and re-apply the task to env runners RLlib recreates.
    """

    def on_train_result(*, algorithm: Any, result: dict[str, Any], **_: Any) -> None:
        runners = result.get("env_runners", {})
        episodes = _finite(runners.get("num_episodes"))
        mean = _finite(runners.get("episode_return_mean"))
        if state.observe(0 if episodes is None else int(episodes), mean):
            algorithm.env_runner_group.foreach_env_runner(
                partial(_set_task, env_config=state.env_config()))
        result["curriculum"] = {"task": state.index, "reapplied": state.reapplied}

    def on_env_runners_recreated(*, algorithm: Any, env_runner_group: Any,
                                 env_runner_indices: list[int], is_evaluation: bool,
                                 **_: Any) -> None:
        if is_evaluation:
            return
        env_runner_group.foreach_env_runner(
            partial(_set_task, env_config=state.env_config()),
            remote_worker_ids=env_runner_indices, local_env_runner=False)
        state.reapplied += len(env_runner_indices)

    return {"on_train_result": on_train_result,
            "on_env_runners_recreated": on_env_runners_recreated}
