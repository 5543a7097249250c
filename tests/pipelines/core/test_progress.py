"""Progress: throttled plain lines off a terminal, a rich bar on one, nothing when quiet."""

from __future__ import annotations

import io
import logging
import re

import pytest
from rich.console import Console

from pipelines.core import progress as prog
from pipelines.core.progress import QUIET_ENV, progress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Clock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _pipe() -> Console:
    return Console(file=io.StringIO(), width=120)  # not a terminal


def _tty() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=160)


@pytest.fixture(autouse=True)
def _loud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(QUIET_ENV, raising=False)


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "arcadelab"]


def test_plain_lines_every_tenth_with_the_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="arcadelab")
    clock = Clock()
    with progress(100, "rl", "iter", console=_pipe(), clock=clock) as p:
        for i in range(100):
            clock.now += 0.1
            p.advance(1, env_steps=f"{(i + 1) * 10}/1000", return_=-21.0 + i / 10)
    lines = _lines(caplog)
    assert len(lines) == 11  # the start, then one per 10% (not one per iteration)
    assert lines[0].startswith("rl: iter 0/100 (0%)")
    assert lines[3].startswith("rl: iter 30/100 (30%)  env steps 300/1000  return -18.1")
    assert "eta" in lines[3]
    assert lines[-1].startswith("rl: iter 100/100 (100%)  env steps 1000/1000  return -11.1")
    assert "eta" not in lines[-1]
    assert p.completed == p.total


def test_plain_lines_every_30_s_on_a_long_total(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="arcadelab")
    clock = Clock()
    with progress(10_000, "data", "rollout task", console=_pipe(), clock=clock) as p:
        for _ in range(8):
            clock.now += 11
            p.advance()
    # A task every 11 s: a line once 30 s have passed since the last, and the final count.
    counts = [re.search(r"task (\d+)/", line).group(1) for line in _lines(caplog)]
    assert counts == ["0", "3", "6", "8"]


def test_a_resumed_loop_counts_from_where_it_was(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="arcadelab")
    clock = Clock()
    with progress(20, "pretrain pixels/atc", "epoch", initial=10, console=_pipe(),
                  clock=clock) as p:
        clock.now = 120
        p.update(12, loss=0.5)  # a restarted worker reports its epoch: an absolute count
    lines = _lines(caplog)
    assert lines[0].startswith("pretrain pixels/atc: epoch 10/20 (50%)")
    # 2 epochs in 2 minutes since the start (not since epoch 0): 8 more take 8 minutes.
    assert lines[1].startswith("pretrain pixels/atc: epoch 12/20 (60%)  loss 0.5")
    assert lines[1].endswith("eta 8m00s")


def test_unknown_total_shows_the_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="arcadelab")
    with progress(None, "active", "labels", console=_pipe(), clock=Clock()) as p:
        p.advance(5)
    assert [line.split("  ")[0] for line in _lines(caplog)] == ["active: labels 0",
                                                                 "active: labels 5"]


def test_no_final_line_after_an_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="arcadelab")
    with pytest.raises(RuntimeError), progress(10_000, "rl", "iter", console=_pipe(),
                                               clock=Clock()) as p:
        p.advance()
        raise RuntimeError("boom")
    assert len(_lines(caplog)) == 1  # only the start: the traceback says where it stopped


def test_quiet_shows_nothing_and_still_counts(caplog: pytest.LogCaptureFixture,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(QUIET_ENV, "1")
    caplog.set_level(logging.INFO, logger="arcadelab")
    for console in (_pipe(), _tty()):
        with progress(3, "rl", "iter", console=console) as p:
            for _ in range(3):
                p.advance(1, loss=1.0)
        assert p.completed == 3
        assert console.file.getvalue() == ""  # type: ignore[attr-defined]
    assert _lines(caplog) == []


@pytest.mark.parametrize(("value", "quiet"), [("1", True), ("true", True), ("0", False),
                                              ("", False)])
def test_quiet_env_values(monkeypatch: pytest.MonkeyPatch, value: str, quiet: bool) -> None:
    monkeypatch.setenv(QUIET_ENV, value)
    assert prog.is_quiet() is quiet


def test_a_terminal_gets_a_bar_not_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="arcadelab")
    console = _tty()
    with progress(3, "rl", "iter", console=console) as p:
        for _ in range(3):
            p.advance(1, return_=-20.5)
    out = ANSI.sub("", console.file.getvalue())  # type: ignore[attr-defined]
    assert "━" in out and "3/3 iter return -20.5" in out
    assert p.completed == 3
    assert _lines(caplog) == []


def test_bars_that_overlap_share_one_display() -> None:
    """Stages on threads may overlap: rich allows one live display per console."""
    console = _tty()
    with progress(2, "data", "rollout task", console=console) as a, \
            progress(4, "rl", "iter", console=console) as b:
        a.advance(2)
        b.advance(4)
    out = ANSI.sub("", console.file.getvalue())  # type: ignore[attr-defined]
    assert "2/2 rollout task" in out and "4/4 iter" in out
    assert prog._live == {}


def test_log_lines_print_above_the_bar_not_on_it() -> None:
    console = _tty()
    logger = logging.getLogger("arcadelab.test_progress")
    handler = logging.StreamHandler(console.file)  # type: ignore[arg-type]
    logger.addHandler(handler)
    try:
        with progress(2, "rl", "iter", console=console, logger=logger) as p:
            logger.warning("a line from elsewhere")
            p.advance(2)
        assert handler.stream is console.file  # restored after the bar
    finally:
        logger.removeHandler(handler)
    segments = ANSI.sub("", console.file.getvalue()).replace("\r", "\n").split("\n")
    assert "a line from elsewhere" in segments  # a whole line, not glued to the bar's
