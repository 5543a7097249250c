"""Ray runtime: a local Ray sized for this machine by default, or an existing cluster.

Joining a cluster first checks that its address answers, so a wrong or unreachable address
fails in seconds with a clear message instead of Ray's long retry loop.
"""

from __future__ import annotations

import logging
import os
import socket
import sys

import ray
import ray.data

from pipelines.core.config import RuntimeConfig
from pipelines.core.progress import QUIET_ENV, is_quiet

log = logging.getLogger("arcadelab")


class RayConnectionError(ConnectionError):
    """The requested Ray cluster cannot be reached."""


def resolve_ray_address(cfg: RuntimeConfig) -> str | None:
    """Config (or --ray-address) first, then RAY_ADDRESS; None means a local Ray."""
    return cfg.ray_address or os.environ.get("RAY_ADDRESS") or None


def check_reachable(address: str, timeout_s: float) -> None:
    """Open and close a TCP connection to a `host:port` Ray GCS address."""
    if address == "auto" or address.startswith("ray://"):
        return  # 'auto' finds a local cluster itself; Ray Client is not our path (DESIGN.md)
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise RayConnectionError(f"Ray address must be host:port or 'auto', got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise RayConnectionError(
            f"cannot reach the Ray cluster at {address} ({exc}); start it with `ray start "
            f"--head`, fix --ray-address / RAY_ADDRESS, or unset them for a local Ray"
        ) from None


def ray_data_progress() -> bool:
    """Whether Ray Data shows its own progress: bars on a terminal only. Elsewhere (a pipe, a
    CI log, the Prefect UI) its fallback logs a line per operator every few seconds (460 of
    the smoke pipeline's 689 lines, session 6) while our own progress lines already say how
    far each stage is; `--quiet` turns it off too. Set on the driver's DataContext, which
    every dataset made afterwards carries to where it executes."""
    show = not is_quiet() and sys.stdout.isatty()
    ray.data.DataContext.get_current().enable_progress_bars = show
    return show


def init_ray(cfg: RuntimeConfig) -> str:
    """Start or join Ray once per process; returns a description for logs."""
    ray_data_progress()
    if ray.is_initialized():
        return "ray (already initialised)"
    address = resolve_ray_address(cfg)
    env_vars = {"PYTHONWARNINGS": "ignore::DeprecationWarning"}
    if is_quiet():  # --quiet reaches the workers of a cluster too, not only local ones
        env_vars[QUIET_ENV] = "1"
    if address:
        check_reachable(address, cfg.connect_timeout_s)
        try:
            ray.init(address=address, runtime_env={"env_vars": env_vars},
                     logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError) as exc:
            raise RayConnectionError(f"cannot join the Ray cluster at {address}: {exc}") from None
        where = f"Ray cluster at {address}"
    else:
        # Keep the env var out of the driver: ray.init(address=None) would try to join it.
        ray.init(num_cpus=cfg.num_cpus, include_dashboard=False,
                 runtime_env={"env_vars": env_vars},
                 logging_level=logging.WARNING, log_to_driver=False)
        where = "local Ray"
    res = ray.cluster_resources()
    desc = f"{where}: {int(res.get('CPU', 0))} CPUs, {int(res.get('GPU', 0))} GPUs"
    log.info(desc)
    return desc
