"""Targets from the game: sound events, onsets, 'an event within k steps', quadrants, windows,
position pairs and default labels; each against a hand-worked example or a slow loop."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.data.game_events import (
    QUADRANTS,
    alignment_windows,
    ball_quadrant,
    default_labels,
    default_targets,
    episode_ends,
    event_within,
    onsets,
    position_pairs,
    quadrant_ranges,
    sound_events,
)
from pipelines.data.labels import labels_for
from pipelines.data.modalities import episode_starts, stack_index

EPISODE = np.array([0, 0, 0, 0, 1, 1, 1])


def test_episode_bounds_and_stacks() -> None:
    assert episode_starts(EPISODE).tolist() == [0, 0, 0, 0, 4, 4, 4]
    assert episode_ends(EPISODE).tolist() == [3, 3, 3, 3, 6, 6, 6]
    idx = stack_index(EPISODE, 3)
    assert idx[0].tolist() == [0, 0, 0] and idx[3].tolist() == [1, 2, 3]
    assert idx[4].tolist() == [4, 4, 4] and idx[6].tolist() == [4, 5, 6]


def test_sound_events_and_onsets() -> None:
    s = np.full((7, 8), 128, np.uint8)
    s[[1, 2, 4]] = [128, 188] * 4
    s[0] = 0  # constant at another level is still silence
    ev = sound_events(s)
    assert ev.tolist() == [False, True, True, False, True, False, False]
    # step 4 follows step 3 of another episode: an onset even though row 3 is silent anyway
    assert onsets(ev, EPISODE).tolist() == [False, True, False, False, True, False, False]
    ev2 = np.array([False, False, False, True, True, False, False])
    assert onsets(ev2, EPISODE).tolist() == [False, False, False, True, True, False, False]
    with pytest.raises(ValueError, match="samples"):
        sound_events(np.zeros(8))


def test_event_within_matches_a_loop() -> None:
    rng = np.random.default_rng(0)
    episode = np.repeat(np.arange(4), [5, 9, 1, 7])
    events = rng.random(len(episode)) < 0.3
    for k in (1, 2, 4):
        y, valid = event_within(events, episode, k)
        ends = episode_ends(episode)
        for t in range(len(events)):
            assert valid[t] == (t + k <= ends[t])
            if valid[t]:
                assert y[t] == events[t + 1:t + k + 1].any()
            else:
                assert not y[t]
    with pytest.raises(ValueError, match="k must be"):
        event_within(events, episode, 0)


def test_quadrants_and_their_definitions_agree() -> None:
    bx = np.array([60, 200, 60, 200, 0, 129])
    by = np.array([60, 60, 200, 200, 100, 128])
    assert ball_quadrant(bx, by).tolist() == [0, 1, 2, 3, -1, 3]
    for q in range(len(QUADRANTS)):
        (x0, x1), (y0, y1) = quadrant_ranges(q)
        xs, ys = np.arange(x0, x1), np.arange(y0, y1)
        assert set(ball_quadrant(np.repeat(xs, len(ys)), np.tile(ys, len(xs)))) == {q}
    with pytest.raises(ValueError):
        quadrant_ranges(4)


def test_alignment_windows_stay_inside_episodes() -> None:
    kept, cands = alignment_windows(np.array([0, 1, 2, 5]), EPISODE, 1)
    assert kept.tolist() == [1, 2, 5]
    assert cands.tolist() == [[0, 1, 2], [1, 2, 3], [4, 5, 6]]
    with pytest.raises(ValueError, match="window"):
        alignment_windows(kept, EPISODE, 0)


def test_position_pairs_ball_first_then_player_then_table_order() -> None:
    names = ["enemy_x1", "player_x", "enemy_y1", "blue_tank_x", "blue_tank_size_y", "ball_y",
             "ball_x", "player_y", "missile_y"]
    assert position_pairs(names) == [("ball", "ball_x", "ball_y"),
                                     ("player", "player_x", "player_y"),
                                     ("enemy1", "enemy_x1", "enemy_y1")]
    assert position_pairs(labels_for("skiing")) == []  # player_x alone is no pair
    assert position_pairs(labels_for("demon_attack"))[0] == ("enemy1", "enemy_x1", "enemy_y1")


def test_pong_keeps_its_default_labels_and_the_rule_agrees() -> None:
    usable = [n for n in labels_for("pong") if n != "player_score"]
    assert default_labels("pong", usable) == ("ball_x", "ball_y", "player_y")
    assert default_labels("pong", []) == ("ball_x", "ball_y", "player_y")  # fixed for Pong
    assert default_labels("not_pong", usable) == ("ball_x", "ball_y", "player_y")
    assert default_targets(("ball_x", "ball_y", "player_y")) == ("ball_x", "ball_y")


def test_other_games_take_up_to_three_usable_labels_a_position_pair_first() -> None:
    breakout = [n for n in labels_for("breakout") if n != "ball_y"]  # ball_y low-entropy
    assert default_labels("breakout", labels_for("breakout")) == ("ball_x", "ball_y", "player_x")
    assert default_labels("breakout", breakout) == ("ball_x", "player_x", "blocks_hit_count")
    assert default_targets(("ball_x", "player_x", "blocks_hit_count")) == (
        "ball_x", "player_x", "blocks_hit_count")  # no pair: every label counts
    assert default_labels("freeway", list(labels_for("freeway"))) == (
        "player_y", "score", "enemy_car_x_0")  # a flattened list is no position pair
    assert default_labels("freeway", ["player_y", "score"]) == ("player_y", "score")
    assert default_labels("tennis", labels_for("tennis"), count=2) == ("ball_x", "ball_y")
