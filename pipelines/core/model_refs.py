"""Which registered model a stage means: the models' names, the alias of a random-init
encoder, and the versions pinned for aliases within one flow run. No heavy imports, so the
CLI, the stage registry and tracking read them without loading MLflow or torch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

ENCODER_MODEL = "arcadelab-encoder"
POLICY_MODEL = "arcadelab-policy"
RANDOM = "random"  # the alias that asks for a seeded random-init encoder

# Within one flow run a stage uses the exact version an upstream stage registered, or the one
# its alias named when the stage started, not whatever the alias names by the time it loads:
# "<model>/<alias>" -> version, set for the stage's duration (`pinned`; cfg.runtime.pins).
_PINS: ContextVar[Mapping[str, str] | None] = ContextVar("arcadelab_model_pins", default=None)


def pin_key(model: str, alias: str) -> str:
    """The key of an alias in `cfg.runtime.pins` (a valid MLflow param name once flattened)."""
    return f"{model}/{alias}"


@contextmanager
def pinned(pins: Mapping[str, str]) -> Iterator[None]:
    """Resolve the aliases in `pins` to their pinned versions inside this block."""
    token = _PINS.set(dict(pins))
    try:
        yield
    finally:
        _PINS.reset(token)


def pinned_ref(model: str, alias: str) -> str:
    """What to ask the registry for: the version pinned for the alias, else the alias (a
    version number stays itself)."""
    pins = _PINS.get() or {}
    return alias if alias.isdigit() else pins.get(pin_key(model, alias), alias)


def policy_aliases(algorithm: str, transfer: str) -> tuple[str, ...]:
    """The aliases an RL run moves to the policy version it registers."""
    return (f"{algorithm}-{transfer}", "current")
