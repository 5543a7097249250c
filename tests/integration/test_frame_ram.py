"""Frame and RAM of a row describe the same instant: the ball drawn in the frame sits where
the RAM says (DESIGN.md data contract), on real ALE rollouts."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.data.labels import screen_positions
from pipelines.data.rollouts import RolloutSpec, collect_rollout, decode_bytes, decode_frames

pytestmark = pytest.mark.integration

BALL_GRAY = 236  # Pong's ball (and walls) in ALE grayscale
PLAY_TOP, PLAY_BOTTOM = 34, 194  # between the white walls


def ball_pixel(frame: np.ndarray) -> tuple[int, int] | None:
    """Top-left pixel of the ball in the play field, or None when it is not drawn."""
    ys, xs = np.nonzero(frame[PLAY_TOP:PLAY_BOTTOM] == BALL_GRAY)
    if xs.size == 0:
        return None
    return int(xs.min()), int(ys.min()) + PLAY_TOP


def test_ball_in_frame_matches_ram() -> None:
    _, rows = collect_rollout(RolloutSpec("ALE/Pong-v5", 0, seed=7, steps=400))
    frames = decode_frames(rows.column("frame"))
    rams = decode_bytes(rows.column("ram"), 128)
    checked = matched = 0
    for frame, ram in zip(frames, rams, strict=True):
        seen = ball_pixel(frame)
        pos = screen_positions("pong", {"ball_x": ram[49], "ball_y": ram[54]})["ball"]
        if seen is None or not (0 <= pos[0] < 160 and PLAY_TOP <= pos[1] < PLAY_BOTTOM - 4):
            continue  # ball off screen or clipped by a wall
        checked += 1
        matched += abs(seen[0] - pos[0]) <= 1 and abs(seen[1] - pos[1]) <= 1
    assert checked > 100, f"too few frames with a visible ball ({checked})"
    assert matched / checked > 0.97, f"only {matched}/{checked} frames agree with RAM"


def test_rows_follow_the_data_contract() -> None:
    _, rows = collect_rollout(RolloutSpec("ALE/Pong-v5", 3, seed=1, steps=120,
                                          max_episode_steps=50))
    assert rows.num_rows == 120
    assert decode_frames(rows.column("frame")).shape == (120, 210, 160)
    sound = decode_bytes(rows.column("sound"), 512)
    assert sound.shape == (120, 512)
    ids = rows.column("episode_id").to_pylist()
    assert ids[0] == "t003-e0000" and len(set(ids)) == 3  # 50 + 50 + 20 steps
    steps = rows.column("step").to_numpy()
    assert steps[0] == 0 and steps[50] == 0 and steps[49] == 49
    done = rows.column("done").to_numpy()
    assert done[49] and done[99] and not done[:49].any()
    assert rows.column("truncated").to_numpy()[49]
    ram = decode_bytes(rows.column("ram"), 128)
    np.testing.assert_array_equal(rows.column("label_player_y").to_numpy(), ram[:, 51])


def test_same_seed_same_rollout() -> None:
    spec = RolloutSpec("ALE/Pong-v5", 0, seed=11, steps=60)
    a, b = collect_rollout(spec)[0], collect_rollout(spec)[0]
    assert a.column("frame_hash").to_pylist() == b.column("frame_hash").to_pylist()
