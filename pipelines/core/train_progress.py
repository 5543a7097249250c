"""Ray Train epochs on the driver's progress display.

`trainer.fit()` blocks the driver until training ends, and the workers' own output never
reaches it (`ray.init(log_to_driver=False)`). Ray Train calls a `UserCallback` in its
controller after each `ray.train.report`; ours puts rank 0's metrics on a Ray queue (an actor
that takes no CPU), and a driver thread turns them into one progress step per epoch.
"""

from __future__ import annotations

import queue as stdlib_queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray
from ray.train import Checkpoint, UserCallback

from pipelines.core.progress import Tracker, is_quiet, progress


class EpochFeed(UserCallback):
    """Runs in Ray Train's controller: forwards rank 0's report of every epoch."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def after_report(self, run_context: Any, metrics: list[dict[str, Any]],
                     checkpoint: Checkpoint | None) -> None:
        if metrics:
            self.queue.put_nowait(metrics[0])


def show_epoch(bar: Tracker, metrics: dict[str, Any], epochs: int = 0,
               methods: tuple[str, ...] = ()) -> None:
    """One report -> the count (absolute: a restarted worker repeats epochs) and fields.

    With several `methods` trained one after another in one run, the count runs over all of
    them (`epochs` each at most: a method that stops early skips the rest of its share)."""
    index = int(metrics.get("method_index", 0))
    fields = {"method": methods[index] if len(methods) > 1 else None,
              "loss": metrics.get("loss"), "val_loss": metrics.get("val_loss"),
              "fps": round(metrics["frames_per_s"]) if "frames_per_s" in metrics else None}
    bar.update(index * epochs + int(metrics["epoch"]) + 1,
               **{k: v for k, v in fields.items() if v is not None})


@contextmanager
def epoch_progress(epochs: int, desc: str, methods: list[str] | None = None,
                   queue: Any = None) -> Iterator[list[UserCallback]]:
    """Callbacks for `RunConfig(callbacks=...)` while training runs in this block: `epochs`
    per method of `methods` (None: one).

    `queue` (anything with `put_nowait` and `get(timeout=)`): a Ray queue made and shut down
    here by default; quiet: no queue, no callbacks."""
    names = tuple(methods or ())
    if is_quiet():
        yield []
        return
    own = queue is None
    if own:
        from ray.util.queue import Queue

        queue = Queue(actor_options={"num_cpus": 0})  # never waits for a training CPU
    stop = threading.Event()

    def show() -> None:
        with progress(epochs * max(1, len(names)), desc, "epoch") as bar:
            while True:
                try:
                    show_epoch(bar, queue.get(timeout=1.0), epochs, names)
                except stdlib_queue.Empty:  # ray.util.queue.Empty is one too
                    if stop.is_set():  # training is over and every report is shown
                        return
                except ray.exceptions.RayError:  # the queue is gone: Ray shut down
                    return

    thread = threading.Thread(target=show, name="train-progress", daemon=True)
    thread.start()
    try:
        yield [EpochFeed(queue)]
    finally:
        stop.set()
        thread.join(timeout=30)
        if own:
            queue.shutdown()
