"""Unit tests for pipelines/core/config/: presets, YAML files, --set overrides, errors, hashes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.core.config import (
    PRESETS,
    ArcadeConfig,
    ConfigError,
    flatten,
    load_config,
    load_yaml,
    parse_set,
)


def write_yaml(tmp_path: Path, data: Any, name: str = "cfg.yaml") -> Path:
    """Dump `data` as YAML into `tmp_path/name` and return the path."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def config_error(**kwargs: Any) -> str:
    """Run load_config expecting a ConfigError; return its message."""
    with pytest.raises(ConfigError) as info:
        load_config(**kwargs)
    return str(info.value)


# --- presets -------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["smoke", "laptop", "cluster"])
def test_presets_resolve(preset: str) -> None:
    cfg = load_config(preset)
    assert isinstance(cfg, ArcadeConfig)
    assert cfg.preset == preset
    assert cfg.game == "ALE/Pong-v5"
    for section, values in PRESETS[preset].items():
        for key, value in values.items():
            assert getattr(getattr(cfg, section), key) == value


def test_laptop_is_defaults() -> None:
    assert load_config("laptop").science() == ArcadeConfig().science()


def test_smoke_episodes_outlast_start_up_and_fill_every_split() -> None:
    """Smoke episodes are cut at 100 steps or more: Ms. Pac-Man's start-up tune lasts ~100
    steps, and 60-step episodes left it no label that varies (tests/pipelines/data/
    test_every_game.py). Pong's random play never ends an episode that soon, so each task
    holds ceil(steps / cut) episodes, and the episode split still fills train, val and test."""
    from pipelines.data.splits import split_counts

    d = load_config("smoke").data
    assert d.max_episode_steps is not None and d.max_episode_steps >= 100
    episodes = d.num_tasks * -(-d.steps_per_task // d.max_episode_steps)
    assert min(split_counts(episodes, d.split)) >= 1, (episodes, d.split)
    assert d.num_tasks * d.steps_per_task <= 600  # the smoke pipeline's frames, no more


def test_presets_differ_in_budget() -> None:
    smoke, laptop, cluster = (load_config(p) for p in ("smoke", "laptop", "cluster"))
    assert smoke.data.num_tasks < laptop.data.num_tasks < cluster.data.num_tasks
    assert smoke.rl.iterations < laptop.rl.iterations < cluster.rl.iterations


def test_unknown_preset() -> None:
    msg = config_error(preset="huge")
    assert "preset" in msg
    assert "huge" in msg
    assert "smoke" in msg  # lists the choices


# --- parse_set -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("seed=3", {"seed": 3}),
        ("data.num_tasks=8", {"data": {"num_tasks": 8}}),
        ("rl.lr=1.0e-3", {"rl": {"lr": 1e-3}}),
        ("rl.gamma=0.5", {"rl": {"gamma": 0.5}}),
        ("a.b=true", {"a": {"b": True}}),
        ("a.b=false", {"a": {"b": False}}),
        ("data.split=[0.8, 0.1, 0.1]", {"data": {"split": [0.8, 0.1, 0.1]}}),
        ("a.b=null", {"a": {"b": None}}),
        ("a.b=", {"a": {"b": None}}),
        ("a.b.c=x", {"a": {"b": {"c": "x"}}}),
        ("game=ALE/Pong-v5", {"game": "ALE/Pong-v5"}),
        ("a=x=y", {"a": "x=y"}),
    ],
)
def test_parse_set_values(expr: str, expected: dict[str, Any]) -> None:
    assert parse_set(expr) == expected


def test_exponent_without_dot_still_validates_as_float() -> None:
    """PyYAML reads `1e-3` as a string; the float field must still accept it."""
    assert load_config(sets=["rl.lr=1e-3"]).rl.lr == pytest.approx(1e-3)


def test_parse_set_types() -> None:
    assert type(parse_set("a=3")["a"]) is int
    assert type(parse_set("a=3.0")["a"]) is float
    assert type(parse_set("a=yes")["a"]) is bool


@pytest.mark.parametrize("expr", ["noequals", "=3", "a..b=1", ".a=1", "a.=1", " =1"])
def test_parse_set_rejects_bad_keys(expr: str) -> None:
    with pytest.raises(ConfigError, match=re.escape("key.path=value")):
        parse_set(expr)


def test_parse_set_rejects_bad_yaml() -> None:
    with pytest.raises(ConfigError, match=re.escape("rl.lr")):
        parse_set("rl.lr=[1, 2")


# --- files and precedence ------------------------------------------------------------------


def test_yaml_file_overrides_preset(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, {"data": {"num_tasks": 7}, "rl": {"lr": 0.001}})
    cfg = load_config("smoke", files=[path])
    assert cfg.data.num_tasks == 7
    assert cfg.rl.lr == 0.001
    # untouched preset values survive the deep merge
    assert cfg.data.steps_per_task == PRESETS["smoke"]["data"]["steps_per_task"]


def test_later_files_win(tmp_path: Path) -> None:
    a = write_yaml(tmp_path, {"seed": 1, "data": {"num_tasks": 3}}, "a.yaml")
    b = write_yaml(tmp_path, {"seed": 2}, "b.yaml")
    cfg = load_config(files=[a, b])
    assert cfg.seed == 2
    assert cfg.data.num_tasks == 3


def test_precedence_preset_file_set(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, {"data": {"num_tasks": 3, "steps_per_task": 111}})
    cfg = load_config("smoke", files=[path], sets=["data.num_tasks=5"])
    assert cfg.data.num_tasks == 5  # set beats file beats preset (2)
    assert cfg.data.steps_per_task == 111  # file beats preset (300)
    assert cfg.data.rows_per_shard == 200  # preset beats default (2000)
    assert cfg.data.frameskip == 4  # default


def test_later_sets_win() -> None:
    cfg = load_config(sets=["seed=1", "seed=9"])
    assert cfg.seed == 9


def test_set_parses_to_field_types() -> None:
    cfg = load_config(
        sets=[
            "rl.lr=0.01",
            "data.max_episode_steps=null",
            "data.split=[0.5, 0.25, 0.25]",
            "rl.rollout_fragment_length=64",
            "pipeline.stages=[data]",
        ]
    )
    assert cfg.rl.lr == 0.01
    assert cfg.data.max_episode_steps is None
    assert cfg.data.split == (0.5, 0.25, 0.25)
    assert cfg.rl.rollout_fragment_length == 64
    assert cfg.pipeline.stages == ("data",)


def test_runtime_flags_override(tmp_path: Path) -> None:
    cfg = load_config(runtime={"work_dir": tmp_path, "num_cpus": None})
    assert cfg.runtime.work_dir == tmp_path
    assert cfg.runtime.num_cpus is None


def test_empty_yaml_file_is_empty_mapping(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_yaml(path) == {}
    assert load_config(files=[path]).science() == load_config().science()


def test_non_mapping_yaml(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, ["a", "b"], "list.yaml")
    msg = config_error(files=[path])
    assert "list.yaml" in msg
    assert "mapping" in msg


def test_invalid_yaml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("data: {num_tasks: [1, 2\n")
    msg = config_error(files=[path])
    assert "broken.yaml" in msg


def test_missing_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    msg = config_error(files=[path])
    assert "not found" in msg
    assert "nope.yaml" in msg


# --- validation errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sets", "field", "fragment"),
    [
        (["data.num_taks=3"], "data.num_taks", "did you mean 'num_tasks'"),
        (["sed=1"], "sed", "did you mean 'seed'"),
        (["rl.lrr=0.1"], "rl.lrr", "did you mean 'lr'"),
        (["runtime.work_dirr=x"], "runtime.work_dirr", "did you mean 'work_dir'"),
    ],
)
def test_unknown_key_suggests(sets: list[str], field: str, fragment: str) -> None:
    msg = config_error(sets=sets)
    assert f"{field}: unknown key" in msg
    assert fragment in msg


def test_unknown_key_without_close_match_lists_known() -> None:
    msg = config_error(sets=["data.zzzzzzzz=1"])
    assert "data.zzzzzzzz: unknown key" in msg
    assert "num_tasks" in msg


def test_unknown_key_from_file(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, {"rl": {"iteratons": 3}})
    msg = config_error(files=[path])
    assert "rl.iteratons" in msg
    assert "iterations" in msg


@pytest.mark.parametrize(
    ("expr", "field"),
    [
        ("data.num_tasks=abc", "data.num_tasks"),
        ("data.num_tasks=1.5", "data.num_tasks"),
        ("rl.lr=fast", "rl.lr"),
        ("seed=[1, 2]", "seed"),
        ("data.split=0.5", "data.split"),
        ("data.policy=two words", "data.policy"),
        ("rl.rollout_fragment_length=sometimes", "rl.rollout_fragment_length"),
    ],
)
def test_wrong_type(expr: str, field: str) -> None:
    msg = config_error(sets=[expr])
    # union fields report one line per member, e.g. `rl.rollout_fragment_length.int: ...`
    assert re.search(rf"^  {re.escape(field)}[:.]", msg, re.MULTILINE), msg


def test_bool_is_not_an_int() -> None:
    msg = config_error(sets=["data.num_tasks=true"])
    assert "data.num_tasks" in msg


@pytest.mark.parametrize(
    ("expr", "field"),
    [
        ("data.num_tasks=-1", "data.num_tasks"),
        ("data.num_tasks=0", "data.num_tasks"),
        ("data.steps_per_task=0", "data.steps_per_task"),
        ("rl.iterations=0", "rl.iterations"),
        ("rl.lr=-0.1", "rl.lr"),
        ("seed=-1", "seed"),
        ("data.repeat_action_probability=1.5", "data.repeat_action_probability"),
        ("runtime.num_cpus=0", "runtime.num_cpus"),
    ],
)
def test_out_of_range_budget(expr: str, field: str) -> None:
    msg = config_error(sets=[expr])
    assert f"{field}:" in msg
    assert "greater than" in msg or "less than" in msg


def test_unknown_game_suggests() -> None:
    msg = config_error(sets=["game=ALE/Pongg-v5"])
    assert "game:" in msg
    assert "ALE/Pongg-v5" in msg
    assert "did you mean ALE/Pong-v5" in msg


def test_other_known_game_accepted() -> None:
    assert load_config(sets=["game=ALE/Breakout-v5"]).game == "ALE/Breakout-v5"


@pytest.mark.parametrize("split", ["[0.5, 0.3, 0.3]", "[0.5, 0.2, 0.2]", "[1.2, -0.1, -0.1]"])
def test_split_must_sum_to_one(split: str) -> None:
    msg = config_error(sets=[f"data.split={split}"])
    assert "data.split:" in msg
    assert "sum to 1" in msg


def test_split_train_must_be_positive() -> None:
    msg = config_error(sets=["data.split=[0.0, 0.5, 0.5]"])
    assert "data.split:" in msg


def test_split_with_empty_val_is_allowed() -> None:
    assert load_config(sets=["data.split=[0.8, 0.0, 0.2]"]).data.split == (0.8, 0.0, 0.2)


def test_minibatch_larger_than_train_batch() -> None:
    msg = config_error(sets=["rl.train_batch_size=100", "rl.minibatch_size=200"])
    assert "rl" in msg
    assert "minibatch_size" in msg
    assert "train_batch_size" in msg


def test_minibatch_equal_to_train_batch_is_allowed() -> None:
    cfg = load_config(sets=["rl.train_batch_size=128", "rl.minibatch_size=128"])
    assert cfg.rl.minibatch_size == cfg.rl.train_batch_size == 128


@pytest.mark.parametrize("stages", ["[data, eval]", "[]"])
def test_unknown_pipeline_stage(stages: str) -> None:
    msg = config_error(sets=[f"pipeline.stages={stages}"])
    assert "pipeline.stages:" in msg


def test_several_errors_reported_together() -> None:
    msg = config_error(sets=["data.num_tasks=-1", "rl.iterations=0"])
    assert "data.num_tasks" in msg
    assert "rl.iterations" in msg


def test_config_is_frozen() -> None:
    cfg = load_config()
    with pytest.raises(ValueError):
        cfg.seed = 5  # type: ignore[misc]


# --- hashes --------------------------------------------------------------------------------


def test_hash_is_stable() -> None:
    a, b = load_config("smoke"), load_config("smoke")
    assert a.hash() == b.hash() == a.hash()
    assert len(a.hash()) == 12
    int(a.hash(), 16)  # hex


@pytest.mark.parametrize(
    "expr", ["seed=1", "data.num_tasks=3", "rl.lr=0.001", "game=ALE/Breakout-v5"]
)
def test_hash_changes_with_science(expr: str) -> None:
    assert load_config(sets=[expr]).hash() != load_config().hash()


def test_hash_ignores_runtime(tmp_path: Path) -> None:
    base = load_config()
    moved = load_config(sets=[f"runtime.work_dir={tmp_path}", "runtime.num_cpus=2"])
    assert moved.runtime.work_dir == tmp_path
    assert moved.hash() == base.hash()


def test_section_hash_ignores_other_sections() -> None:
    base = load_config()
    rl_changed = load_config(sets=["rl.lr=0.001"])
    assert rl_changed.hash("data") == base.hash("data")
    assert rl_changed.hash("rl") != base.hash("rl")
    assert rl_changed.hash() != base.hash()


def test_section_hash_tracks_game_and_seed() -> None:
    base = load_config()
    assert load_config(sets=["seed=4"]).hash("data") != base.hash("data")
    assert load_config(sets=["data.num_tasks=9"]).hash("data") != base.hash("data")


# --- flatten -------------------------------------------------------------------------------


def test_flatten_nested() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None}) == {
        "a.b": 1,
        "a.c.d": [1, 2],
        "e": None,
    }


def test_flatten_empty_and_prefix() -> None:
    assert flatten({}) == {}
    assert flatten({"x": 1}, "p.") == {"p.x": 1}


def test_flatten_config_covers_every_field() -> None:
    flat = flatten(load_config().model_dump(mode="json"))
    assert flat["data.num_tasks"] == 4
    assert flat["rl.iterations"] == 50
    assert flat["game"] == "ALE/Pong-v5"
    assert not any(isinstance(v, dict) for v in flat.values())


def test_a_config_object_naming_a_preset_gets_its_sizes() -> None:
    """A deployment's `cfg: {preset: smoke}` is the smoke preset, not laptop sizes under a
    smoke label; its own values still win, and a resolved config is unchanged."""
    from pipelines.core.config import ArcadeConfig, ConfigError, validate

    cfg = ArcadeConfig.model_validate({"preset": "smoke", "rl": {"iterations": 5}})
    smoke = load_config("smoke")
    assert cfg.data == smoke.data and cfg.rl.iterations == 5
    assert cfg.rl.train_batch_size == smoke.rl.train_batch_size
    assert validate(smoke.model_dump(mode="json")) == smoke
    with pytest.raises(ConfigError, match="unknown preset 'tiny'"):
        validate({"preset": "tiny"})


def test_up_down_actions_need_a_game_with_a_known_pair() -> None:
    """rl.actions=up_down (the course's two-action policy) plays Pong's RIGHT/LEFT; a game
    outside agents.atari_env.UP_DOWN_ACTIONS is refused before any compute, naming the field."""
    assert load_config("smoke", sets=["rl.actions=up_down"]).rl.actions == "up_down"
    assert load_config("smoke").rl.actions == "full"
    with pytest.raises(ConfigError, match=r"rl\.actions: up_down: no up/down action pair known "
                       r"for ALE/Breakout-v5"):
        load_config("smoke", sets=["rl.actions=up_down", "game=ALE/Breakout-v5"])
    assert load_config(sets=["game=ALE/Breakout-v5"]).rl.actions == "full"
