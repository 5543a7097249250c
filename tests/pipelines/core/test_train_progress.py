"""Ray Train epochs on the driver's progress: the controller's callback feeds a queue that a
driver thread shows (a stdlib queue stands in for the Ray queue: no Ray starts here)."""

from __future__ import annotations

import io
import logging
import queue

import pytest
from rich.console import Console

from pipelines.core import progress as prog
from pipelines.core.train_progress import epoch_progress


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(prog.QUIET_ENV, raising=False)
    # Plain lines even when pytest runs with -s on a terminal.
    monkeypatch.setattr(prog, "terminal_console",
                        lambda logger=None: Console(file=io.StringIO()))


def _report(epoch: int, loss: float) -> list[dict[str, float]]:
    """What Ray Train hands the controller's callback: one dict per worker."""
    rank0 = {"epoch": epoch, "loss": loss, "frames_per_s": 1234.4, "epoch_time_s": 2.0,
             "val_loss": loss + 0.1}
    return [rank0, {**rank0, "loss": 9.0}]


def test_each_epoch_report_reaches_the_driver(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="arcadelab")
    with epoch_progress(3, "pretrain stack84/atc", queue=queue.Queue()) as callbacks:
        (feed,) = callbacks
        feed.after_report(None, _report(0, 0.5), None)
        feed.after_report(None, _report(1, 0.25), None)
        feed.after_report(None, _report(1, 0.25), None)  # a restarted worker repeats an epoch
        feed.after_report(None, _report(2, 0.125), None)
    lines = [r.getMessage() for r in caplog.records if r.name == "arcadelab"]
    assert lines[0].startswith("pretrain stack84/atc: epoch 0/3 (0%)")
    assert lines[1].startswith("pretrain stack84/atc: epoch 1/3 (33%)  loss 0.5  val loss 0.6  "
                               "fps 1234")
    assert lines[-1].startswith("pretrain stack84/atc: epoch 3/3 (100%)  loss 0.125")
    assert len(lines) == 4  # the repeated epoch moved nothing


def test_quiet_adds_no_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(prog.QUIET_ENV, "1")
    with epoch_progress(3, "pretrain stack84/atc", queue=queue.Queue()) as callbacks:
        assert callbacks == []


def test_several_methods_count_on_one_bar(caplog: pytest.LogCaptureFixture) -> None:
    """One Ray Train run trains every method in turn: the bar counts epochs over all of them
    and names the method under way; a method that stops early skips its remaining share."""
    caplog.set_level(logging.INFO, logger="arcadelab")
    with epoch_progress(2, "pretrain stack84", ["atc", "clip"], queue=queue.Queue()) as (feed,):
        feed.after_report(None, _report(0, 0.5), None)  # atc stops after one epoch
        feed.after_report(None, [{**_report(0, 0.4)[0], "method_index": 1}], None)
        feed.after_report(None, [{**_report(1, 0.3)[0], "method_index": 1}], None)
    lines = [r.getMessage() for r in caplog.records if r.name == "arcadelab"]
    assert lines[0].startswith("pretrain stack84: epoch 0/4 (0%)")
    assert lines[1].startswith("pretrain stack84: epoch 1/4 (25%)  method atc  loss 0.5")
    assert lines[-1].startswith("pretrain stack84: epoch 4/4 (100%)  method clip  loss 0.3")
