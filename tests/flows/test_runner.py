"""The pipeline as a graph (flows/runner.py): a stage starts once the stages it takes results
from are done, within the concurrency limit and the CPUs the running stages declare; a
failure starts nothing new. The stage calls are replaced by timed stand-ins (no Ray, Prefect
or MLflow here: tests/integration/test_families.py runs the real thing)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from flows.runner import _StageRunner
from pipelines.core.config import load_config

STAGES = ("data", "pretrain", "gan", "fewshot", "rl", "policy_transfer")


class Timed(_StageRunner):
    """Records when each stage started and ended instead of running it."""

    def __init__(self, *args: Any, fail: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fail, self.spans, self.running, self.peak = fail, {}, 0, 0
        self._count = threading.Lock()

    def run(self, name: str, parent: Any, upstream: dict[str, Any]) -> Any:
        with self._count:
            self.running += 1
            self.peak = max(self.peak, self.running)
        start = time.monotonic()
        time.sleep(0.01 if name == self.fail else 0.1)  # the failure comes first
        with self._count:
            self.running -= 1
        self.spans[name] = (start, time.monotonic(), sorted(upstream))
        if name == self.fail:
            raise RuntimeError(f"{name} broke")
        self.results[name] = name
        return name


def _runner(*sets: str, **kwargs: Any) -> Timed:
    cfg = load_config("smoke", sets=("pretrain.num_workers=2", *sets))
    return Timed(cfg, "pipeline", "local", STAGES, **kwargs)


def test_each_stage_starts_after_the_stages_it_takes_results_from() -> None:
    r = _runner()
    r.run_graph(parent=None, limit=4, cpus=4)
    s = r.spans
    assert set(s) == set(STAGES)
    assert s["pretrain"][0] >= s["data"][1]
    for name in ("gan", "fewshot", "rl"):
        assert s[name][0] >= s["pretrain"][1], name
    assert s["policy_transfer"][0] >= s["rl"][1]
    # A stage is handed the results of its declared upstream stages only.
    assert s["gan"][2] == ["data", "pretrain"] and s["rl"][2] == ["pretrain"]
    assert s["policy_transfer"][2] == ["rl"]
    # gan, fewshot and rl became ready together and ran together.
    assert r.peak == 3


@pytest.mark.parametrize(("limit", "cpus", "peak"), [(2, 8, 2), (4, 2, 2), (4, 1, 1)])
def test_the_limit_and_the_declared_cpus_bound_what_runs_at_once(limit: int, cpus: int,
                                                                 peak: int) -> None:
    r = _runner("rl.num_env_runners=1")  # every stage here declares 1 CPU but pretrain (2)
    r.run_graph(parent=None, limit=limit, cpus=cpus)
    assert set(r.spans) == set(STAGES)  # pretrain (2 CPUs > 1) still ran, alone
    assert r.peak == peak


def test_a_failure_lets_running_stages_finish_and_starts_nothing_new() -> None:
    r = _runner(fail="gan")
    with pytest.raises(RuntimeError, match="gan broke"):
        r.run_graph(parent=None, limit=4, cpus=4)
    assert {"fewshot", "rl"} <= set(r.spans)  # started beside gan, allowed to finish
    assert "policy_transfer" not in r.spans  # would have started after rl: never did
