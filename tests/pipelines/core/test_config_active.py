"""The `active` and `data_curriculum` config sections: presets, errors naming the field, and
the label lists they derive per game when they name none (synthetic manifests, no Ray)."""

from __future__ import annotations

import pytest

from pipelines.active.stage import active_labels
from pipelines.core.config import ConfigError, load_config
from pipelines.curriculum.data_curriculum import curriculum_labels
from pipelines.data.dataset import FORMAT_VERSION, DatasetError, Manifest
from pipelines.data.labels import labels_for


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
    ("active.target_labels=[]", "target_labels: must be a non-empty subset"),
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


def test_target_labels_outside_named_labels_fail_at_config_time() -> None:
    with pytest.raises(ConfigError, match="target_labels: must be a non-empty subset"):
        load_config("smoke", sets=["active.labels=[ball_x, ball_y]",
                                   "active.target_labels=[enemy_y]"])


def _manifest(rom: str, low: tuple[str, ...] = ()) -> Manifest:
    return Manifest(format_version=FORMAT_VERSION, name="unit", game=f"ALE/{rom}", rom=rom,
                    rom_sha256="0" * 64, versions={}, config={}, shards=(), splits={},
                    labels=labels_for(rom), label_stats=[], low_entropy_labels=low,
                    dropped_leaked_frames=0)


def test_default_label_lists_are_the_games() -> None:
    cfg = load_config("smoke")
    assert cfg.active.labels is None and cfg.active.target_labels is None
    assert cfg.data_curriculum.labels is None
    pong = _manifest("pong", low=("player_y",))  # Pong keeps its list whatever the entropy
    assert active_labels(cfg.active, pong) == (("ball_x", "ball_y", "player_y"),
                                               ("ball_x", "ball_y"))
    assert curriculum_labels(cfg.data_curriculum, pong) == ("ball_x", "ball_y", "player_y")
    breakout = _manifest("breakout", low=("score",))
    assert active_labels(cfg.active, breakout) == (("ball_x", "ball_y", "player_x"),
                                                   ("ball_x", "ball_y"))
    assert curriculum_labels(cfg.data_curriculum, breakout) == ("ball_x", "ball_y", "player_x")
    skiing = _manifest("skiing", low=("score", "clock_ms"))  # no pair: savings over all three
    assert active_labels(cfg.active, skiing) == (("player_x", "clock_m", "clock_s"),) * 2


def test_named_labels_are_kept_and_checked_against_the_game() -> None:
    cfg = load_config("smoke", sets=["game=ALE/Breakout-v5", "active.labels=[score, ball_x]",
                                     "data_curriculum.labels=[player_x]"])
    breakout = _manifest("breakout")
    assert active_labels(cfg.active, breakout) == (("score", "ball_x"), ("score", "ball_x"))
    assert curriculum_labels(cfg.data_curriculum, breakout) == ("player_x",)
    with pytest.raises(DatasetError, match=r"active.labels: \['score'\] are not RAM labels of"):
        active_labels(cfg.active, _manifest("pong"))
    targets = load_config("smoke", sets=["game=ALE/Breakout-v5",
                                         "active.target_labels=[score]"]).active
    with pytest.raises(DatasetError, match=r"active.target_labels: .* \(set active.labels too\)"):
        active_labels(targets, breakout)
    with pytest.raises(DatasetError, match="no usable RAM labels"):
        active_labels(cfg.active.model_copy(update={"labels": None}),
                      _manifest("freeway", low=tuple(labels_for("freeway"))))


def test_active_labels_the_game_lacks_fail_at_config_load() -> None:
    """Named labels are checked against the game's table when the config loads, not when the
    stage opens the dataset minutes into a flow."""
    with pytest.raises(ConfigError, match=r"active.labels: \['player_y'\] are not RAM labels "
                                          r"of ALE/Breakout-v5"):
        load_config("smoke", sets=["game=ALE/Breakout-v5", "active.labels=[ball_x, player_y]"])
    with pytest.raises(ConfigError, match=r"active.target_labels: \['score'\] are not RAM "
                                          r"labels of ALE/Pong-v5"):
        load_config("smoke", sets=["active.target_labels=[score]"])
    # A flattened list label (pipelines/data/labels.py) is a label of its game.
    freeway = load_config("smoke", sets=["game=ALE/Freeway-v5",
                                         "active.labels=[player_y, enemy_car_x_3]"])
    assert freeway.active.labels == ("player_y", "enemy_car_x_3")


def test_ball_speed_is_refused_on_a_game_without_ball_labels() -> None:
    c = load_config("smoke", sets=["data_curriculum.difficulty=ball_speed"]).data_curriculum
    assert c.game_problem("ALE/Breakout-v5") is None
    assert c.game_problem("ALE/Skiing-v5").startswith(
        "difficulty: ball_speed needs the ball_x and ball_y RAM labels, which ALE/Skiing-v5")
    with pytest.raises(DatasetError, match="ball_speed needs ball_x and ball_y"):
        curriculum_labels(c, _manifest("skiing"))
    assert curriculum_labels(c, _manifest("tennis")) == ("ball_x", "ball_y", "enemy_x")
    named = c.model_copy(update={"labels": ("ball_x", "fuel")})
    assert named.game_problem("ALE/Pong-v5").startswith("labels: ['fuel'] are not RAM labels")
    # Validation asks the same question when the config is loaded: refused before any flow.
    with pytest.raises(ConfigError, match=r"data_curriculum.labels: \['fuel'\] are not RAM"):
        load_config("smoke", sets=["data_curriculum.labels=[ball_x, fuel]"])
    with pytest.raises(ConfigError, match="ball_speed needs the ball_x and ball_y RAM labels"):
        load_config("smoke", sets=["game=ALE/Skiing-v5", "data_curriculum.difficulty=ball_speed"])
