"""Third-party notices we cannot fix at their source, silenced one exact message at a time.

Each entry names one message, where it comes from and why it is not ours to fix. A message
not listed here, even from the same library or logger, still shows: nothing is silenced by
category or by library (tests/pipelines/core/test_quiet.py checks both sides).

Noise whose cause was ours is fixed where it arose, not here: the pyfunc models type
`predict` (MLflow's "Add type hints" warning), and `flows/__init__.py` tells Prefect that
`arcadelab` lines logged before a flow run are expected (its "without a flow run id" warning),
and RLlib's system monitor, which asked for GPUtil, is off (`agents/ppo.py`).
"""

from __future__ import annotations

import logging
import re
import warnings
from typing import NamedTuple


class QuietWarning(NamedTuple):
    """One `warnings.warn` message to ignore."""

    category: type[Warning]
    message: str  # regex for the whole message (install() anchors its end)
    module: str | None  # regex for the whole module the warning is attributed to; None: any
    reason: str


class QuietLog(NamedTuple):
    """One log record to drop, by the exact logger that emits it."""

    logger: str
    message: str  # regex for the whole formatted message
    reason: str


def _gym_warn(text: str) -> str:
    """gymnasium.logger.warn prefixes 'WARN: ' and colours the message yellow."""
    return re.escape(f"\x1b[33mWARN: {text}\x1b[0m")


WARNINGS: tuple[QuietWarning, ...] = (
    QuietWarning(
        UserWarning,
        _gym_warn("Overriding environment rllib-single-agent-env-v0 already in registry."),
        r"gymnasium\.envs\.registration",
        "RLlib's SingleAgentEnvRunner.make_env calls gym.register on its private id on every "
        "env (re)build, by design; our own env id goes to Tune's registry, and our "
        "gym.register_envs(ale_py) calls register nothing (a no-op in gymnasium 1.x).",
    ),
)

LOGS: tuple[QuietLog, ...] = (
    QuietLog(
        "mlflow.pyfunc",
        re.escape("Failed to infer model signature: Type hint <input: <class 'numpy.ndarray'>, "
                  "output: <class 'numpy.ndarray'>> cannot be used to infer model signature and "
                  "input example is not provided, model signature cannot be inferred."),
        "Our encoder and policy pyfuncs log no signature on purpose (frames are uint8 arrays "
        "and stages load the weights, not the pyfunc); MLflow says so on every log_model and "
        "has no switch for 'no signature intended'. A signature would change what predict "
        "accepts.",
    ),
    QuietLog(
        "ray.data._internal.progress",
        re.escape("Progress bars disabled. To enable, set "
                  "`ray.data.DataContext.get_current().enable_progress_bars = True`."),
        "We turn Ray Data's progress off where it would only log lines (not a terminal, or "
        "--quiet; pipelines/core/runtime.py ray_data_progress); Ray Data then says once how "
        "to turn it back on, which is advice for its own users, not ours.",
    ),
)


class _DropListed(logging.Filter):
    """Drops the records listed in LOGS for the logger it is attached to."""

    def __init__(self, patterns: dict[str, list[re.Pattern[str]]]) -> None:
        super().__init__()
        self.patterns = patterns

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not any(p.fullmatch(text) for p in self.patterns.get(record.name, ()))


_patterns: dict[str, list[re.Pattern[str]]] = {}
for _entry in LOGS:
    _patterns.setdefault(_entry.logger, []).append(re.compile(_entry.message))
# One filter object: Logger.addFilter skips one already attached, so install() is idempotent.
_LOG_FILTER = _DropListed(_patterns)


def install() -> None:
    """Silence exactly the listed messages in this process; safe to call more than once."""
    for w in WARNINGS:
        # filterwarnings matches at the start only; \Z makes the message and module whole.
        warnings.filterwarnings("ignore", message=w.message + r"\Z", category=w.category,
                                module=(w.module + r"\Z") if w.module else "")
    for name in _patterns:
        logging.getLogger(name).addFilter(_LOG_FILTER)
