"""Unit tests for pipelines/data/labels.py: the AtariARI table, RAM label extraction, entropy,
statistics, positions."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipelines.data.labels import (
    ATARIARI_SOURCE,
    EXCLUDED_LABELS,
    MULTI_BYTE_LABELS,
    RAM_LABELS,
    annotated_games,
    entropy_bits,
    extract_labels,
    flatten_lists,
    label_statistics,
    labels_for,
    multi_byte_labels,
    screen_positions,
)

# atari_dict in AtariARI's ram_annotations.py has 24 keys, as ale-py ROM ids: the paper's 22
# benchmark games plus battle_zone and skiing, which the file annotates too.
ATARIARI_GAMES = {
    "asteroids",
    "battle_zone",
    "berzerk",
    "bowling",
    "boxing",
    "breakout",
    "demon_attack",
    "freeway",
    "frostbite",
    "hero",
    "montezuma_revenge",
    "ms_pacman",
    "pitfall",
    "pong",
    "private_eye",
    "qbert",
    "riverraid",
    "seaquest",
    "skiing",
    "space_invaders",
    "tennis",
    "venture",
    "video_pinball",
    "yars_revenge",
}

PONG_INDICES = {
    "player_y": 51,
    "enemy_y": 50,
    "ball_x": 49,
    "ball_y": 54,
    "player_score": 14,
    "enemy_score": 13,
}


def ram_rows(n: int) -> np.ndarray:
    """(n, 128) uint8 RAM where byte i of row r holds (i + 3 * r) % 256: every cell distinct."""
    rows = np.arange(n)[:, None] * 3 + np.arange(128)[None, :]
    return (rows % 256).astype(np.uint8)


def test_pong_table_matches_atariari() -> None:
    assert labels_for("pong") == PONG_INDICES
    assert "player_x" not in labels_for("pong")  # constant bytes are left out


def test_labels_for_unknown_rom_is_empty() -> None:
    assert labels_for("no_such_rom") == {}
    assert multi_byte_labels("no_such_rom") == {}


def _data() -> dict[str, Any]:
    path = resources.files("pipelines.data").joinpath("atariari_labels.json")
    return json.loads(path.read_text())


def test_json_names_its_source() -> None:
    source = _data()["source"]
    assert "Anand" in source["paper"]
    assert "1906.08226" in source["paper"]
    assert source["repo"] == "https://github.com/mila-iqia/atari-representation-learning"
    assert source["path"] == "atariari/benchmark/ram_annotations.py"
    assert source["symbol"] == "atari_dict"
    assert "MIT" in source["license"]
    assert source == ATARIARI_SOURCE


def test_every_atariari_game_is_annotated() -> None:
    assert set(_data()["games"]) == ATARIARI_GAMES
    assert annotated_games() == tuple(sorted(ATARIARI_GAMES))
    assert len(annotated_games()) == 24
    assert set(MULTI_BYTE_LABELS) == ATARIARI_GAMES
    for rom in annotated_games():
        assert labels_for(rom), rom  # every game has single-byte labels


def test_rom_ids_are_ale_py_roms() -> None:
    import ale_py

    for rom in annotated_games():
        assert Path(ale_py.roms.get_rom_path(rom)).is_file(), rom


def test_every_index_is_a_ram_byte() -> None:
    for rom in annotated_games():
        indices = list(labels_for(rom).values())
        indices += [i for idxs in multi_byte_labels(rom).values() for i in idxs]
        assert indices, rom
        assert all(type(i) is int and 0 <= i <= 127 for i in indices), rom


def test_names_unique_per_game_even_when_flattened() -> None:
    # AtariARI flattens list labels into name_0, name_1, ...; those must not clash with scalars.
    for rom, game in _data()["games"].items():
        scalars, multi = game["labels"], game["multi"]
        assert not set(scalars) & set(multi), rom
        flat = [f"{name}_{i}" for name, idxs in multi.items() for i in range(len(idxs))]
        names = [*scalars, *flat]
        assert len(names) == len(set(names)), rom


def test_scalar_table_is_single_bytes_only() -> None:
    for rom in annotated_games():
        assert all(isinstance(i, int) for i in labels_for(rom).values()), rom
        assert not set(labels_for(rom)) & set(multi_byte_labels(rom)), rom


def test_tables_match_the_json_minus_exclusions_with_lists_flattened() -> None:
    for rom, game in _data()["games"].items():
        kept = {k: v for k, v in game["labels"].items() if k not in EXCLUDED_LABELS.get(rom, {})}
        flat = {f"{name}_{i}": idx for name, idxs in game["multi"].items()
                for i, idx in enumerate(idxs)}
        assert labels_for(rom) == kept | flat, rom
        assert list(labels_for(rom))[:len(kept)] == list(kept), rom  # single bytes first
        assert multi_byte_labels(rom) == game["multi"], rom


def test_freeway_gets_a_label_per_car() -> None:
    # AtariARI's enemy_car_x lists one byte per car lane; flattened, as AtariARI probes it.
    table = labels_for("freeway")
    assert table == {"player_y": 14, "score": 103,
                     **{f"enemy_car_x_{i}": 108 + i for i in range(10)}}
    assert flatten_lists({"clock": [67, 69]}) == {"clock_0": 67, "clock_1": 69}


def test_exclusions_name_real_source_labels_with_a_reason() -> None:
    games = _data()["games"]
    for rom, excluded in EXCLUDED_LABELS.items():
        assert rom in games
        for name, why in excluded.items():
            assert name in games[rom]["labels"], (rom, name)  # the data keeps it
            assert name not in labels_for(rom), (rom, name)  # the table drops it
            assert why.strip()


def test_pong_exclusions_are_the_constant_paddle_x_bytes() -> None:
    assert set(EXCLUDED_LABELS) == {"pong"}
    assert set(EXCLUDED_LABELS["pong"]) == {"player_x", "enemy_x"}
    assert _data()["games"]["pong"]["labels"]["player_x"] == 46
    assert _data()["games"]["pong"]["labels"]["enemy_x"] == 45


def test_breakout_matches_atariari() -> None:
    assert labels_for("breakout") == {
        "ball_x": 99,
        "ball_y": 101,
        "player_x": 72,
        "blocks_hit_count": 77,
        "score": 84,
        **{f"block_bit_map_{i}": i for i in range(30)},
    }
    assert multi_byte_labels("breakout") == {"block_bit_map": list(range(30))}


def test_multi_byte_labels_keep_lists_and_return_a_copy() -> None:
    assert multi_byte_labels("qbert")["score"] == [89, 90, 91]
    assert multi_byte_labels("berzerk")["enemy_robots_y"] == list(range(56, 65))
    table = multi_byte_labels("breakout")
    table["block_bit_map"].append(127)
    assert len(MULTI_BYTE_LABELS["breakout"]["block_bit_map"]) == 30


def test_docs_list_every_annotated_game() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "games.md").read_text()
    for rom in annotated_games():
        assert f"`{rom}`" in doc, rom


@pytest.mark.integration
@pytest.mark.parametrize("env_id", ["ALE/Pong-v5", "ALE/Breakout-v5", "ALE/MsPacman-v5"])
def test_labelled_bytes_are_live_in_the_real_rom(env_id: str) -> None:
    import ale_py
    import gymnasium as gym

    from agents.atari_env import rom_name

    gym.register_envs(ale_py)
    env = gym.make(env_id, obs_type="ram")
    table = labels_for(rom_name(env_id))
    ram, _ = env.reset(seed=0)
    env.action_space.seed(0)
    seen = {name: {int(ram[i])} for name, i in table.items()}
    for _ in range(300):
        ram, _, terminated, truncated, _ = env.step(env.action_space.sample())
        for name, i in table.items():
            seen[name].add(int(ram[i]))
        if terminated or truncated:
            ram, _ = env.reset()
    env.close()
    changed = [name for name, values in seen.items() if len(values) > 1]
    assert changed, f"{env_id}: no labelled byte changed in 300 random steps"


def test_labels_for_returns_a_copy() -> None:
    table = labels_for("pong")
    table["ball_x"] = 0
    assert RAM_LABELS["pong"]["ball_x"] == 49


def test_extract_pong_labels_by_index() -> None:
    ram = np.zeros((2, 128), dtype=np.uint8)
    # distinct sentinel values at the exact Pong indices
    ram[0, [51, 50, 49, 54, 14, 13]] = [10, 20, 30, 40, 5, 7]
    ram[1, [51, 50, 49, 54, 14, 13]] = [11, 21, 31, 41, 6, 8]
    labels = extract_labels(ram, labels_for("pong"))
    assert set(labels) == set(PONG_INDICES)
    np.testing.assert_array_equal(labels["player_y"], [10, 11])
    np.testing.assert_array_equal(labels["enemy_y"], [20, 21])
    np.testing.assert_array_equal(labels["ball_x"], [30, 31])
    np.testing.assert_array_equal(labels["ball_y"], [40, 41])
    np.testing.assert_array_equal(labels["player_score"], [5, 6])
    np.testing.assert_array_equal(labels["enemy_score"], [7, 8])


def test_extract_labels_dtype_and_shape() -> None:
    ram = ram_rows(5)
    labels = extract_labels(ram, labels_for("pong"))
    for name, idx in PONG_INDICES.items():
        assert labels[name].dtype == np.uint8
        assert labels[name].shape == (5,)
        np.testing.assert_array_equal(labels[name], ram[:, idx])


def test_extract_labels_accepts_lists() -> None:
    ram = ram_rows(2).tolist()
    labels = extract_labels(ram, {"b": 127})
    np.testing.assert_array_equal(labels["b"], [127, 130 % 256])


def test_extract_labels_empty_batch() -> None:
    labels = extract_labels(np.zeros((0, 128), np.uint8), labels_for("pong"))
    assert all(v.shape == (0,) for v in labels.values())


@pytest.mark.parametrize("shape", [(128,), (3, 127), (3, 129), (2, 3, 128), (0,)])
def test_extract_labels_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"\(N, 128\)"):
        extract_labels(np.zeros(shape, np.uint8), labels_for("pong"))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([7, 7, 7, 7], 0.0),
        ([0, 1], 1.0),
        ([3, 9, 3, 9, 3, 9], 1.0),
        ([0, 1, 2, 3], 2.0),
        ([0, 1, 2, 3] * 5, 2.0),
        (list(range(8)), 3.0),
        ([], 0.0),
        ([0, 0, 0, 1], -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))),
    ],
)
def test_entropy_bits_oracles(values: list[int], expected: float) -> None:
    assert entropy_bits(np.asarray(values, dtype=np.uint8)) == pytest.approx(expected, abs=1e-12)


def test_entropy_of_constant_is_exactly_zero() -> None:
    h = entropy_bits(np.full(10, 5))
    assert h == 0.0
    assert math.copysign(1.0, h) == 1.0  # not -0.0


def test_entropy_ignores_order() -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 5, size=200)
    assert entropy_bits(values) == pytest.approx(entropy_bits(rng.permutation(values)))


def test_label_statistics_flags_low_entropy() -> None:
    labels = {
        "const": np.full(8, 3, np.uint8),
        "four": np.array([0, 1, 2, 3] * 2, np.uint8),
        "skewed": np.array([0] * 7 + [1], np.uint8),  # ~0.544 bits
    }
    table = {"const": 1, "four": 2, "skewed": 3}
    stats = label_statistics(labels, table, min_entropy_bits=0.6).set_index("label")
    assert list(stats.columns) == [
        "ram_index",
        "distinct",
        "entropy_bits",
        "min",
        "max",
        "low_entropy",
    ]
    assert stats.loc["const", "low_entropy"]
    assert stats.loc["skewed", "low_entropy"]
    assert not stats.loc["four", "low_entropy"]
    assert stats.loc["four", "entropy_bits"] == pytest.approx(2.0)
    assert stats.loc["const", "entropy_bits"] == 0.0
    assert stats.loc["four", "distinct"] == 4
    assert stats.loc["const", "distinct"] == 1
    assert (stats.loc["four", "min"], stats.loc["four", "max"]) == (0, 3)
    assert stats.loc["skewed", "ram_index"] == 3


def test_label_statistics_threshold_is_strict() -> None:
    labels = {"two": np.array([0, 1], np.uint8)}
    stats = label_statistics(labels, {"two": 0}, min_entropy_bits=1.0)
    assert not stats.loc[0, "low_entropy"]  # exactly 1 bit is not below 1 bit
    stats = label_statistics(labels, {"two": 0}, min_entropy_bits=1.01)
    assert stats.loc[0, "low_entropy"]


def test_label_statistics_from_extracted_ram() -> None:
    ram = ram_rows(4)
    table = labels_for("pong")
    stats = label_statistics(extract_labels(ram, table), table, 0.6)
    assert len(stats) == len(table)
    assert set(stats["label"]) == set(table)
    assert not stats["low_entropy"].any()  # 4 distinct values per byte: 2 bits


def test_label_statistics_empty_values() -> None:
    stats = label_statistics({"x": np.zeros(0, np.uint8)}, {"x": 0}, 0.6)
    row = stats.iloc[0]
    assert (row["distinct"], row["min"], row["max"]) == (0, 0, 0)
    assert row["low_entropy"]


def test_screen_positions_pong_ball() -> None:
    pos = screen_positions("pong", {"ball_x": 100, "ball_y": 60, "player_y": 3})
    assert pos == {"ball": (51, 46)}  # x = 100 - 49, y = 60 - 14


def test_screen_positions_accepts_numpy_scalars() -> None:
    labels = extract_labels(ram_rows(1), labels_for("pong"))
    row = {k: v[0] for k, v in labels.items()}
    x, y = screen_positions("pong", row)["ball"]
    assert (x, y) == (49 - 49, 54 - 14)
    assert type(x) is int
    assert type(y) is int


def test_screen_positions_missing_label() -> None:
    assert screen_positions("pong", {"ball_x": 100}) == {}


def test_screen_positions_unknown_rom() -> None:
    assert screen_positions("no_such_rom", {"ball_x": 100, "ball_y": 60}) == {}
