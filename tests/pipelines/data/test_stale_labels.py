"""A dataset collected under an older label table is collected again, not reused: its folder
name keys on the data config, not on the table."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pipelines.data.labels import labels_for
from pipelines.data.prep import _stale_labels


def _manifest(rom: str, labels: dict[str, int]) -> Any:
    return SimpleNamespace(rom=rom, name=f"{rom}-abc", labels=labels)


def test_todays_table_is_not_stale() -> None:
    assert _stale_labels(_manifest("pong", labels_for("pong"))) is None


def test_a_table_without_the_flattened_lists_is_stale() -> None:
    now = labels_for("freeway")
    before = {k: v for k, v in now.items() if not k.startswith("enemy_car_x_")}
    why = _stale_labels(_manifest("freeway", before))
    assert why == (f"freeway-abc was collected with another label table ({len(before)} labels; "
                   f"the table now has {len(now)})")
