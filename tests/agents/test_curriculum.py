"""The curriculum schedule is a pure function: promotion, demotion, bounds, patience."""

from __future__ import annotations

import pytest

from agents.curriculum import CurriculumState, Schedule, next_task

S = Schedule(num_tasks=3, promote_at=0.0, demote_at=-10.0, min_episodes=5)


@pytest.mark.parametrize(("index", "ret", "episodes", "expected"), [
    (0, 1.0, 5, 1),      # good enough and enough episodes: promote
    (0, 1.0, 4, 0),      # too few episodes to judge
    (0, None, 50, 0),    # no finished episode yet
    (1, -5.0, 10, 1),    # between thresholds: stay
    (1, -10.0, 10, 0),   # at the demotion threshold: demote
    (0, -20.0, 10, 0),   # cannot demote below the first task
    (2, 5.0, 10, 2),     # cannot promote past the last task
])
def test_next_task(index: int, ret: float | None, episodes: int, expected: int) -> None:
    assert next_task(index, ret, episodes, S) == expected


def test_never_demotes_without_threshold() -> None:
    s = Schedule(num_tasks=2, promote_at=0.0, demote_at=None, min_episodes=1)
    assert next_task(1, -21.0, 100, s) == 1


def test_out_of_range_index() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        next_task(3, 0.0, 10, S)


def test_state_counts_episodes_since_the_last_switch() -> None:
    state = CurriculumState({"game": "ALE/Pong-v5", "frameskip": 4},
                            [{"frameskip": 2}, {"frameskip": 4}], Schedule(2, 0.0, None, 4))
    assert state.env_config()["frameskip"] == 2
    assert not state.observe(3, 5.0)          # 3 episodes: not yet
    assert state.observe(2, -1.0)             # 5 episodes, mean (15 - 2) / 5 > 0: promote
    assert state.index == 1 and state.env_config()["frameskip"] == 4
    assert state.episodes == 0                # the new task starts counting afresh
    assert not state.observe(0, None)         # an iteration without finished episodes
