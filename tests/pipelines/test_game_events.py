"""Targets from the game: sound events, onsets, 'an event within k steps', quadrants, windows;
each against a hand-worked example or a slow loop."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.game_events import (
    QUADRANTS,
    alignment_windows,
    ball_quadrant,
    episode_ends,
    event_within,
    onsets,
    quadrant_ranges,
    sound_events,
)
from pipelines.modalities import episode_starts, stack_index

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
