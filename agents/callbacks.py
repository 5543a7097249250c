"""RLlib callbacks that make env-runner faults visible in the metrics: how many env runners
RLlib recreated so far and how many are healthy now (RLlib 2.60 does not report either)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def health_callbacks() -> dict[str, Callable[..., None]]:
    restarts = {"count": 0}

    def on_env_runners_recreated(*, env_runner_indices: list[int], is_evaluation: bool,
                                 **_: Any) -> None:
        if not is_evaluation:
            restarts["count"] += len(env_runner_indices)

    def on_train_result(*, algorithm: Any, result: dict[str, Any], **_: Any) -> None:
        group = algorithm.env_runner_group
        result["health"] = {"env_runner_restarts": restarts["count"],
                            "env_runners_healthy": group.num_healthy_remote_workers()}

    return {"on_env_runners_recreated": on_env_runners_recreated,
            "on_train_result": on_train_result}


def merge(*groups: Mapping[str, Callable[..., None]]) -> dict[str, list[Callable[..., None]]]:
    """Combine callback dicts into `AlgorithmConfig.callbacks(**...)` lists, in order."""
    out: dict[str, list[Callable[..., None]]] = {}
    for group in groups:
        for hook, fn in group.items():
            out.setdefault(hook, []).append(fn)
    return out
