"""Progress of long loops (rollout tasks, epochs, RL iterations, active-learning rounds).

One API everywhere: `with progress(total, desc, unit) as p: p.advance(1, loss=0.3)`.
- a terminal gets a rich bar (count, the latest fields, elapsed, ETA);
- anything else (a pipe, a CI log, the Prefect UI) gets plain `arcadelab` log lines at a
  bounded rate: on entry, each time another 10% is done or 30 s have passed, and at the end;
- `ARCADELAB_QUIET=1` (the CLI's `--quiet`, inherited by Ray workers and subprocesses) shows
  nothing.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.default_styles import DEFAULT_STYLES
from rich.file_proxy import FileProxy
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.theme import Theme

QUIET_ENV = "ARCADELAB_QUIET"
log = logging.getLogger("arcadelab")


def is_quiet() -> bool:
    """Progress is off process-wide (set by `arcadelab --quiet`)."""
    return os.environ.get(QUIET_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _value(v: object) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def _count(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.4g}"


def _duration(s: float) -> str:
    s = int(s)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Tracker:
    """Counts work done; the base class shows nothing (quiet)."""

    def __init__(self, total: float | None, desc: str, unit: str, *, initial: float = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.initial = self.completed = initial
        self.fields: dict[str, object] = {}  # sticky: a field shows until replaced
        self.clock = clock
        self.start = clock()

    def advance(self, n: float = 1, /, **fields: object) -> None:
        """`n` more units done; `fields` (loss=..., return_=...) show beside the count."""
        self.update(self.completed + n, **fields)

    def update(self, completed: float, /, **fields: object) -> None:
        """Set the count (e.g. the epoch a restarted worker reports) and the fields."""
        self.completed = completed
        self.fields.update(fields)
        self._show()

    def info(self) -> str:
        return "  ".join(f"{k.rstrip('_').replace('_', ' ')} {_value(v)}"
                         for k, v in self.fields.items())

    def _show(self) -> None:
        pass

    def _close(self) -> None:
        pass


class _Lines(Tracker):
    """Plain log lines at a bounded rate: every `fraction` of the total or `every_s`."""

    def __init__(self, *args: Any, every_s: float, fraction: float, logger: logging.Logger,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.every_s, self.logger = every_s, logger
        self.steps = max(1, round(1 / fraction))  # whole steps: 0.3 / 0.1 is not 3 in floats
        self._emit()

    def _step(self, completed: float) -> int:
        return int(completed * self.steps // self.total) if self.total else 0

    def _emit(self, final: bool = False) -> None:
        now = self.clock()
        elapsed = now - self.start
        count = _count(self.completed)
        if self.total:
            count += f"/{_count(self.total)} ({100 * self.completed / self.total:.0f}%)"
        parts = [f"{self.desc}: {self.unit} {count}", self.info(), f"elapsed {_duration(elapsed)}"]
        done = self.completed - self.initial
        if self.total and not final and done > 0 and self.completed < self.total:
            parts.append(f"eta {_duration(elapsed / done * (self.total - self.completed))}")
        self.logger.info("  ".join(p for p in parts if p))
        self._last_t, self._last_shown = now, self.completed

    def _show(self) -> None:
        if (self._step(self.completed) > self._step(self._last_shown)
                or self.clock() - self._last_t >= self.every_s):
            self._emit()

    def _close(self) -> None:
        if self.completed != self._last_shown:
            self._emit(final=True)


class _Bar(Tracker):
    """One task of the rich Progress shared by every bar on this console."""

    def __init__(self, *args: Any, bars: Progress, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bars = bars
        self.task = bars.add_task(self.desc, total=self.total, completed=self.initial,
                                  unit=self.unit, info="")

    def _show(self) -> None:
        self.bars.update(self.task, completed=self.completed, info=self.info())

    def _close(self) -> None:
        self.bars.refresh()


# Bars that overlap in time (stages on threads) share one Live display per console: rich
# allows one at a time.
_live: dict[int, tuple[Progress, int, list[tuple[logging.StreamHandler, object]]]] = {}
_live_lock = threading.Lock()
_STDERR = Console(stderr=True)  # one object, so overlapping bars find the same display
# Prefect's console has a theme without rich's defaults: the bar brings its own styles.
_BAR_THEME = Theme({k: v for k, v in DEFAULT_STYLES.items()
                    if k.startswith(("bar.", "progress."))}, inherit=False)


def _chain(logger: logging.Logger) -> Iterator[logging.Handler]:
    """The handlers a record of `logger` reaches."""
    current: logging.Logger | None = logger
    while current is not None:
        yield from current.handlers
        current = current.parent if current.propagate else None


def terminal_console(logger: logging.Logger = log) -> Console:
    """The console our log lines already print on (Prefect's console handler keeps a rich
    Console), so a bar drawn on it and those lines never overwrite each other; else stderr."""
    for h in _chain(logger):
        if isinstance(getattr(h, "console", None), Console):
            return h.console  # type: ignore[attr-defined]
    return _STDERR


def _is_tty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def _route_logs(console: Console, logger: logging.Logger
                ) -> list[tuple[logging.StreamHandler, object]]:
    """Plain stream handlers that write to this terminal go through the console while the bar
    is live (printed above it, not glued to its line); returns what to restore."""
    moved = []
    for h in _chain(logger):
        stream = getattr(h, "stream", None)
        if (type(h) is logging.StreamHandler and not isinstance(stream, FileProxy)
                and (stream is console.file or _is_tty(stream))):
            moved.append((h, h.setStream(FileProxy(console, stream))))
    return moved


@contextmanager
def _shared_bars(console: Console, logger: logging.Logger) -> Iterator[Progress]:
    key = id(console)
    with _live_lock:
        if key not in _live:
            bars = Progress(
                TextColumn("[progress.description]{task.description}"), BarColumn(),
                MofNCompleteColumn(), TextColumn("{task.fields[unit]}"),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
                TimeRemainingColumn(), console=console,
                speed_estimate_period=3600)  # iterations may be minutes apart
            console.push_theme(_BAR_THEME)
            bars.start()
            _live[key] = (bars, 0, _route_logs(console, logger))
        bars, users, moved = _live[key]
        _live[key] = (bars, users + 1, moved)
    try:
        yield bars
    finally:
        with _live_lock:
            bars, users, moved = _live.pop(key)
            if users > 1:
                _live[key] = (bars, users - 1, moved)
            else:
                bars.stop()
                console.pop_theme()
                for h, stream in moved:
                    h.setStream(stream)  # type: ignore[arg-type]


@contextmanager
def progress(total: float | None, desc: str, unit: str = "step", *, initial: float = 0,
             console: Console | None = None, logger: logging.Logger = log,
             every_s: float = 30.0, fraction: float = 0.1,
             clock: Callable[[], float] = time.monotonic) -> Iterator[Tracker]:
    """Track `total` units of work (None: unknown); `initial` are done already (a resume).

    `console` defaults to the one the logs print on; plain lines go to `logger` at INFO."""
    common: dict[str, Any] = {"initial": initial, "clock": clock}
    if is_quiet():
        yield Tracker(total, desc, unit, **common)
        return
    console = console or terminal_console(logger)
    if not console.is_terminal:
        lines = _Lines(total, desc, unit, every_s=every_s, fraction=fraction, logger=logger,
                       **common)
        yield lines
        lines._close()  # not after an error: the traceback says where it stopped
        return
    with _shared_bars(console, logger) as bars:
        bar = _Bar(total, desc, unit, bars=bars, **common)
        yield bar
        bar._close()
