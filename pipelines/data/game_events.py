"""Targets defined from the game itself (no annotation): sound events, "something happens
within the next k steps", an object's quadrant, the windows of audio-visual alignment, and
which RAM labels a stage targets when its config names none.

Rows are one split sorted by (episode, step) (`pipelines.data.modalities.ModalSplit`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pipelines.data.modalities import episode_starts

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


@dataclass(frozen=True)
class Quadrants:
    """Classes: the quadrant of an object's RAM position (x, y). Ranges are half-open in RAM
    units; outside them the object is out of play (class -1); `centre` splits them."""

    obj: str  # e.g. "ball"
    x_label: str
    y_label: str
    x_range: tuple[int, int]
    y_range: tuple[int, int]
    centre: tuple[int, int]

    def classify(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """RAM positions -> quadrant index into QUADRANTS, or -1 when out of play."""
        bx, by = np.asarray(x, int), np.asarray(y, int)
        in_play = ((bx >= self.x_range[0]) & (bx < self.x_range[1]) & (by >= self.y_range[0])
                   & (by < self.y_range[1]))
        q = (by >= self.centre[1]).astype(int) * 2 + (bx >= self.centre[0]).astype(int)
        return np.where(in_play, q, -1)

    def ranges(self, q: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """The definition of quadrant q as RAM ranges ((x_lo, x_hi), (y_lo, y_hi)), half-open;
        what zero-shot prompts are built from."""
        if not 0 <= q < len(QUADRANTS):
            raise ValueError(f"quadrant must be in [0, {len(QUADRANTS)}), got {q}")
        (x0, x1), (y0, y1), (cx, cy) = self.x_range, self.y_range, self.centre
        return ((x0, cx) if q % 2 == 0 else (cx, x1)), ((y0, cy) if q < 2 else (cy, y1))


PONG_BALL = Quadrants("ball", "ball_x", "ball_y", PONG_BALL_X, PONG_BALL_Y, PONG_CENTRE)
# Playfields measured on the screen, per ROM; any other game's are derived from its data.
KNOWN_QUADRANTS: dict[str, Quadrants] = {"pong": PONG_BALL}


def ball_quadrant(ball_x: np.ndarray, ball_y: np.ndarray) -> np.ndarray:
    """Pong ball RAM position -> quadrant index into QUADRANTS, or -1 when out of play."""
    return PONG_BALL.classify(ball_x, ball_y)


def quadrant_ranges(q: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Pong's quadrant q as RAM ranges ((x_lo, x_hi), (y_lo, y_hi)), half-open."""
    return PONG_BALL.ranges(q)


def quadrants_from_data(obj: str, x_label: str, y_label: str, x: np.ndarray, y: np.ndarray
                        ) -> Quadrants:
    """Quadrants of a game whose playfield is not measured: in play = the observed range (train
    values), split at the median so each half holds about half the frames (few-shot needs k
    examples of every class); the split stays inside the range, so no quadrant is empty."""
    axes = []
    for name, v in ((x_label, np.asarray(x, int)), (y_label, np.asarray(y, int))):
        if v.size == 0 or v.min() == v.max():
            raise ValueError(f"{name} takes fewer than 2 values: no quadrants to split")
        lo, hi = int(v.min()), int(v.max()) + 1
        axes.append(((lo, hi), min(max(int(np.ceil(np.median(v))), lo + 1), hi - 1)))
    (xr, cx), (yr, cy) = axes
    return Quadrants(obj, x_label, y_label, xr, yr, (cx, cy))


_X_LABEL = re.compile(r"^(?P<obj>.+)_x(?P<k>\d*)$")  # ball_x, enemy_x1 (AtariARI numbers objects)
PREFERRED_OBJECTS = ("ball", "player")


def position_pairs(labels: Iterable[str]) -> list[tuple[str, str, str]]:
    """(object, x label, y label) of every `<obj>_x`/`<obj>_y` (or `_x1`/`_y1`) pair among
    `labels`: the ball first, then the player, then the rest in the labels' order."""
    names = list(labels)
    pairs = []
    for name in names:
        m = _X_LABEL.match(name)
        if m and f"{m['obj']}_y{m['k']}" in names:
            pairs.append((m["obj"] + m["k"], name, f"{m['obj']}_y{m['k']}"))
    rank = {o: i for i, o in enumerate(PREFERRED_OBJECTS)}
    return sorted(pairs, key=lambda p: rank.get(p[0], len(rank)))  # stable: table order


# Pong's defaults predate the derivation below; kept so its results stay comparable.
KNOWN_DEFAULT_LABELS: dict[str, tuple[str, ...]] = {"pong": ("ball_x", "ball_y", "player_y")}


def default_labels(rom: str, usable: Sequence[str], count: int = 3) -> tuple[str, ...]:
    """The RAM labels a stage predicts when its config names none: Pong's three; else up to
    `count` of the dataset's usable labels, an object's position pair first."""
    if rom in KNOWN_DEFAULT_LABELS:
        return KNOWN_DEFAULT_LABELS[rom]
    pairs = position_pairs(usable)
    first = [*pairs[0][1:]] if pairs else []
    return tuple([*first, *(n for n in usable if n not in first)][:count])


def default_targets(labels: Sequence[str]) -> tuple[str, ...]:
    """The labels a score is averaged over when the config names none: the first position pair
    among `labels` (Pong: ball_x, ball_y), else all of them."""
    pairs = position_pairs(labels)
    return tuple(pairs[0][1:]) if pairs else tuple(labels)


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
