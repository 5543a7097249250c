"""The derived views: frame stacks never cross an episode start, temporal partners never
cross an episode end, rows come out in step order whatever order they came in."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipelines.data.views import (
    VIEWS,
    complete_stacks,
    episode_rows,
    stack_frames,
    temporal_partner,
    view_shape,
)


def episode(num_steps: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_steps, 210, 160), dtype=np.uint8)


def test_stack84_stacks_predecessors_and_repeats_the_first_frame() -> None:
    frames = episode(6)
    obs = stack_frames(frames, "stack84")
    assert obs.shape == (6, 4, 84, 84) and obs.dtype == np.uint8
    small = [cv2.resize(f, (84, 84), interpolation=cv2.INTER_AREA) for f in frames]
    np.testing.assert_array_equal(obs[5], np.stack(small[2:6]))
    np.testing.assert_array_equal(obs[1], np.stack([small[0], small[0], small[0], small[1]]))
    np.testing.assert_array_equal(obs[0], np.stack([small[0]] * 4))


def test_full_view_is_the_stored_frame() -> None:
    frames = episode(3)
    obs = stack_frames(frames, "full")
    assert obs.shape == (3, 1, 210, 160)
    np.testing.assert_array_equal(obs[:, 0], frames)


def test_temporal_partner_clamps_inside_the_episode() -> None:
    np.testing.assert_array_equal(temporal_partner(6, 3), [3, 4, 5, 5, 5, 5])
    np.testing.assert_array_equal(temporal_partner(1, 3), [0])


def test_unknown_view() -> None:
    with pytest.raises(ValueError, match="unknown view 'tiny'"):
        view_shape("tiny")
    assert set(VIEWS) == {"stack84", "full"}


def test_episode_rows_sorts_by_step_and_pairs_t_with_t_plus_k() -> None:
    frames = episode(5, seed=3)
    ram = np.arange(5 * 128, dtype=np.uint8).reshape(5, 128)
    order = np.array([3, 0, 4, 1, 2])  # rows arrive shuffled, as after a shuffle by episode
    batch = {
        "step": order.astype(np.int32),
        "frame": np.array([frames[i].tobytes() for i in order], dtype=object),
        "ram": np.array([ram[i].tobytes() for i in order], dtype=object),
        "label_ball_x": np.array([10 + i for i in order], dtype=np.uint8),
    }
    out = episode_rows(batch, "full", ["ball_x"], temporal_k=2)
    np.testing.assert_array_equal(out["obs"][:, 0], frames)
    np.testing.assert_array_equal(out["ram"], ram)
    np.testing.assert_array_equal(out["labels"][:, 0], [10, 11, 12, 13, 14])
    np.testing.assert_array_equal(out["obs_next"][:, 0], frames[[2, 3, 4, 4, 4]])
    assert "obs_next" not in episode_rows(batch, "full", ["ball_x"], temporal_k=None)


def test_stacks_that_skip_a_dropped_step_are_left_out() -> None:
    # Steps 4 and 5 were dropped (duplicates of train frames): the stacks of steps 6-8 would
    # jump over them; steps 0-3 and from 9 on stack consecutive frames.
    steps = np.array([0, 1, 2, 3, 6, 7, 8, 9, 10])
    np.testing.assert_array_equal(complete_stacks(steps, "stack84"),
                                  [1, 1, 1, 1, 0, 0, 0, 1, 1])
    assert complete_stacks(steps, "full").all()  # one frame: nothing to skip
    # An episode whose first stored step is not 0 repeats that step, like step 0.
    assert complete_stacks(np.array([5, 6, 7]), "stack84").all()

    frames = episode(len(steps), seed=1)
    batch = {"step": steps.astype(np.int32),
             "frame": np.array([f.tobytes() for f in frames], dtype=object),
             "ram": np.array([bytes(128)] * len(steps), dtype=object),
             "label_ball_x": steps.astype(np.uint8)}
    out = episode_rows(batch, "stack84", ["ball_x"], temporal_k=1)
    np.testing.assert_array_equal(out["labels"][:, 0], [0, 1, 2, 3, 9, 10])
    assert len(out["obs"]) == len(out["obs_next"]) == len(out["ram"]) == 6
    # The partner of step 3 is the next stored row (step 6) before the filter; kept as is.
    np.testing.assert_array_equal(out["obs_next"][3], stack_frames(frames, "stack84")[4])
