"""The `active` and `data_curriculum` config sections: presets and errors naming the field."""

from __future__ import annotations

import pytest

from pipelines.config import ConfigError, load_config


def test_presets_scale_the_label_budget() -> None:
    smoke, laptop, cluster = (load_config(p) for p in ("smoke", "laptop", "cluster"))
    assert smoke.active.budget < laptop.active.budget < cluster.active.budget
    assert smoke.data_curriculum.steps < laptop.data_curriculum.steps
    assert laptop.data_curriculum.steps < cluster.data_curriculum.steps
    assert "random" in laptop.active.strategies


@pytest.mark.parametrize(("expr", "fragment"), [
    ("active.strategies=[margin, greedy]", "active.strategies"),
    ("active.strategies=[margin, margin]", "must not repeat"),
    ("active.strategies=[]", "active.strategies"),
    ("active.target_labels=[enemy_y]", "target_labels: must be a non-empty subset"),
    ("active.labels=[ball_x, ball_x]", "labels: need distinct"),
    ("active.seed_size=900", "seed_size: 900 exceeds budget"),
    ("active.oracle=crowd", "active.oracle"),
    ("active.dropout=1.0", "active.dropout"),
    ("active.batch_size=0", "active.batch_size"),
    ("active.stream_strategy=bald", "active.stream_strategy"),
    ("data_curriculum.orders=[backwards]", "data_curriculum.orders"),
    ("data_curriculum.pacings=[cubic]", "data_curriculum.pacings"),
    ("data_curriculum.difficulty=vibes", "data_curriculum.difficulty"),
    ("data_curriculum.start_fraction=0", "data_curriculum.start_fraction"),
    ("data_curriculum.levels=1", "data_curriculum.levels"),
])
def test_bad_values_name_the_field(expr: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[")):
        load_config("smoke", sets=[expr])


def test_active_hash_changes_with_the_section_only() -> None:
    base = load_config("laptop")
    assert load_config("laptop", sets=["active.batch_size=50"]).hash("active") != \
        base.hash("active")
    assert load_config("laptop", sets=["active.batch_size=50"]).hash("data") == base.hash("data")
