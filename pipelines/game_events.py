"""Targets defined from the game itself (no annotation): sound events, "something happens
within the next k steps", ball quadrants, and the windows of audio-visual alignment.

Rows are one split sorted by (episode, step) (`pipelines.modalities.ModalSplit`).
"""

from __future__ import annotations

import numpy as np

from pipelines.modalities import episode_starts

# Pong's playfield in RAM units (pixel x = ram[49] - 49, y = ram[54] - 14; DESIGN.md): the ball
# is in play inside it, and its centre splits the quadrants.
PONG_BALL_X = (50, 209)
PONG_BALL_Y = (48, 208)
PONG_CENTRE = (129, 128)
QUADRANTS = ("top-left", "top-right", "bottom-left", "bottom-right")


def sound_events(sound: np.ndarray) -> np.ndarray:
    """(N, samples) uint8 -> (N,) bool: the step made a sound (its buffer is not constant)."""
    sound = np.asarray(sound)
    if sound.ndim != 2:
        raise ValueError(f"sound must be (N, samples), got {sound.shape}")
    return (sound != sound[:, :1]).any(axis=1)


def onsets(events: np.ndarray, episode: np.ndarray) -> np.ndarray:
    """Events whose previous step in the same episode was silent (a sound starts here)."""
    events = np.asarray(events, bool)
    prev = np.r_[False, events[:-1]] & (episode_starts(episode) != np.arange(len(events)))
    return events & ~prev


def episode_ends(episode: np.ndarray) -> np.ndarray:
    """(N,) sorted episode codes -> (N,) index of each row's episode's last row."""
    episode = np.asarray(episode)
    last = np.r_[episode[1:] != episode[:-1], True]
    return np.minimum.accumulate(np.where(last, np.arange(len(episode)), len(episode))[::-1])[
        ::-1]


def event_within(events: np.ndarray, episode: np.ndarray, k: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """y[t] = an event happens at one of the steps t+1..t+k of t's episode; valid[t] = those k
    steps all exist (rows near a cut episode end have an unknown future and are dropped)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    events = np.asarray(events, bool)
    n = len(events)
    csum = np.r_[0, np.cumsum(events)]
    hi = np.minimum(np.arange(n) + k, n - 1)
    y = (csum[hi + 1] - csum[np.arange(n) + 1]) > 0
    valid = np.arange(n) + k <= episode_ends(episode)
    return y & valid, valid


def ball_quadrant(ball_x: np.ndarray, ball_y: np.ndarray) -> np.ndarray:
    """Pong ball RAM position -> quadrant index into QUADRANTS, or -1 when out of play."""
    bx, by = np.asarray(ball_x, int), np.asarray(ball_y, int)
    in_play = ((bx >= PONG_BALL_X[0]) & (bx < PONG_BALL_X[1]) & (by >= PONG_BALL_Y[0])
               & (by < PONG_BALL_Y[1]))
    q = (by >= PONG_CENTRE[1]).astype(int) * 2 + (bx >= PONG_CENTRE[0]).astype(int)
    return np.where(in_play, q, -1)


def quadrant_ranges(q: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The class definition of quadrant q as RAM ranges ((x_lo, x_hi), (y_lo, y_hi)), half-open;
    what zero-shot prompts are built from."""
    if not 0 <= q < len(QUADRANTS):
        raise ValueError(f"quadrant must be in [0, {len(QUADRANTS)}), got {q}")
    xs = (PONG_BALL_X[0], PONG_CENTRE[0]) if q % 2 == 0 else (PONG_CENTRE[0], PONG_BALL_X[1])
    ys = (PONG_BALL_Y[0], PONG_CENTRE[1]) if q < 2 else (PONG_CENTRE[1], PONG_BALL_Y[1])
    return xs, ys


def alignment_windows(anchors: np.ndarray, episode: np.ndarray, w: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """For anchor rows, the candidate rows t-w..t+w (the true one in the middle, index w).
    Anchors whose window leaves their episode are dropped. -> (anchors kept (M,), (M, 2w+1))."""
    if w < 1:
        raise ValueError(f"window must be >= 1, got {w}")
    anchors = np.asarray(anchors, int)
    starts, ends = episode_starts(episode), episode_ends(episode)
    ok = (anchors - w >= starts[anchors]) & (anchors + w <= ends[anchors])
    kept = anchors[ok]
    return kept, kept[:, None] + np.arange(-w, w + 1)[None, :]
