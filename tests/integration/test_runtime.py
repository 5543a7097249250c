"""Joining a Ray cluster: an unreachable or malformed address is a fast, clear error."""

from __future__ import annotations

import time

import pytest

from pipelines.core.config import RuntimeConfig
from pipelines.core.runtime import RayConnectionError, check_reachable, resolve_ray_address

pytestmark = pytest.mark.integration


def test_unreachable_address_fails_fast() -> None:
    start = time.perf_counter()
    with pytest.raises(RayConnectionError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:1"):
        check_reachable("127.0.0.1:1", timeout_s=5)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("address", ["nonsense", "host:port", ":"])
def test_malformed_address(address: str) -> None:
    with pytest.raises(RayConnectionError, match="host:port"):
        check_reachable(address, timeout_s=1)


def test_address_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "10.9.9.9:6379")
    assert resolve_ray_address(RuntimeConfig()) == "10.9.9.9:6379"
    assert resolve_ray_address(RuntimeConfig(ray_address="127.0.0.1:6380")) == "127.0.0.1:6380"
    monkeypatch.delenv("RAY_ADDRESS")
    assert resolve_ray_address(RuntimeConfig()) is None

