"""Few-shot helpers: the k-too-large error, episode accuracy on separable data, tertiles,
zero-shot prompts that follow the class definition, and the classes and base tasks each game's
labels give (Pong's unchanged; a game without a position pair skipped before any compute)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from models.clip import FrameRamCLIP, RamEncoder
from pipelines.core.config import load_config
from pipelines.data.dataset import FORMAT_VERSION, MANIFEST, DatasetError, Manifest
from pipelines.data.game_events import PONG_BALL, QUADRANTS, quadrant_ranges, quadrants_from_data
from pipelines.data.labels import annotated_games, labels_for
from pipelines.fewshot import stage as fewshot
from pipelines.fewshot.stage import (
    FewShotError,
    FewshotPlan,
    check_shots,
    episode_accuracy,
    plan_fewshot,
    tertiles,
)
from pipelines.fewshot.zeroshot import (
    class_embeddings,
    class_prompts,
    ram_prompts,
    zero_shot_predict,
)

# AtariARI games whose single-byte labels hold no (x, y) pair (docs/games.md lists them).
NO_POSITION_PAIR = {"battle_zone", "freeway", "skiing"}


def test_k_larger_than_the_examples_is_one_clear_error() -> None:
    y = np.array([0] * 5 + [1] * 3 + [2] * 9 + [3] * 4)
    check_shots(y, (1, 3), QUADRANTS)
    with pytest.raises(FewShotError, match=r"k=4 .*: top-right \(3\); lower fewshot.shots"):
        check_shots(y, (1, 4), QUADRANTS)


def test_episode_accuracy_on_separable_and_on_random_data() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(4) * 10
    y_tr, y_te = rng.integers(0, 4, 200), rng.integers(0, 4, 100)
    x_tr = centres[y_tr] + rng.normal(size=(200, 4))
    x_te = centres[y_te] + rng.normal(size=(100, 4))
    acc, std = episode_accuracy(lambda x: x.astype(np.float32), x_tr, y_tr, x_te, y_te, 1, 5,
                                10, 4, rng)
    assert acc == 1.0 and std == 0.0
    noise = rng.normal(size=(100, 4))
    acc, _ = episode_accuracy(lambda x: x.astype(np.float32), x_tr, y_tr, noise, y_te, 5, 20,
                              10, 4, rng)
    assert acc < 0.5


def test_tertiles() -> None:
    train = np.arange(9)
    assert tertiles(np.array([0, 2, 3, 5, 6, 8]), train).tolist() == [0, 0, 1, 1, 2, 2]


def test_ram_prompts_follow_the_ranges() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (5, 128)).astype(np.uint8)
    p = ram_prompts(base, {49: (50, 129), 54: (128, 208)}, 50, rng)
    assert p.shape == (50, 128) and p.dtype == np.uint8
    assert p[:, 49].min() >= 50 and p[:, 49].max() < 129
    assert p[:, 54].min() >= 128 and p[:, 54].max() < 208
    others = np.delete(np.arange(128), [49, 54])
    assert all(any((row[others] == b[others]).all() for b in base) for row in p)
    with pytest.raises(ValueError, match="empty"):
        ram_prompts(base, {49: (10, 10)}, 2, rng)


def test_zero_shot_picks_the_class_whose_prompts_match() -> None:
    # A frame tower that copies byte 49 / 255 and a RAM tower that reads it: matching by cosine
    # then depends on that byte only.
    torch.manual_seed(0)
    clip = FrameRamCLIP(nn.Identity(), 2, RamEncoder(feature_dim=2, hidden=4), 2, embed_dim=2)
    with torch.no_grad():
        clip.frame_proj.weight.copy_(torch.eye(2))
        clip.frame_proj.bias.zero_()
    clip.ram_proj = nn.Identity()
    clip.ram_encoder = _Byte49()
    rng = np.random.default_rng(0)
    base = np.zeros((3, 128), np.uint8)
    classes = class_embeddings(clip, [ram_prompts(base, {49: (0, 10)}, 4, rng),
                                      ram_prompts(base, {49: (240, 250)}, 4, rng)])
    frames = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)  # "low byte" and "high byte"
    assert zero_shot_predict(clip, frames, classes).tolist() == [0, 1]


class _Byte49(nn.Module):
    def forward(self, ram: torch.Tensor) -> torch.Tensor:
        v = ram[:, 49].float() / 255
        return torch.stack([1 - v, v], dim=1)


# ------------------------------------------------- classes and base tasks from the game's labels


def _manifest(rom: str, low: tuple[str, ...] = (), distinct: dict[str, int] | None = None
              ) -> Manifest:
    """A synthetic manifest of `rom`: its table's labels, the given low-entropy ones and
    per-label distinct counts (default 50)."""
    labels = labels_for(rom)
    stats = [{"label": n, "distinct": (distinct or {}).get(n, 50)} for n in labels]
    return Manifest(format_version=FORMAT_VERSION, name="unit", game=f"ALE/{rom}", rom=rom,
                    rom_sha256="0" * 64, versions={}, config={}, shards=(),
                    splits={s: {"rows": 0, "shards": 0} for s in ("train", "val", "test")},
                    labels=labels, label_stats=stats, low_entropy_labels=low,
                    dropped_leaked_frames=0)


def test_pong_keeps_its_ball_quadrants_and_paddle_base_tasks() -> None:
    plan = plan_fewshot(_manifest("pong", low=("player_score", "enemy_score")))
    assert isinstance(plan, FewshotPlan)
    assert plan.known is PONG_BALL and plan.quadrants(np.zeros((1, 128)), {}) is PONG_BALL
    assert (plan.x_label, plan.y_label) == ("ball_x", "ball_y")
    assert plan.base_tasks == ("player_y", "enemy_y") and plan.base_name == "paddle"
    # The measured playfield of before: in play [50, 209) x [48, 208), centre (129, 128).
    assert [PONG_BALL.ranges(q) for q in range(4)] == [
        ((50, 129), (48, 128)), ((129, 209), (48, 128)),
        ((50, 129), (128, 208)), ((129, 209), (128, 208))]
    # Zero-shot prompts: the same draws as the loop over quadrant_ranges that built them before.
    base = np.random.default_rng(1).integers(0, 256, (6, 128)).astype(np.uint8)
    idx = labels_for("pong")
    new = class_prompts(PONG_BALL, idx, base, 5, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    old = [ram_prompts(base, {49: quadrant_ranges(q)[0], 54: quadrant_ranges(q)[1]}, 5, rng)
           for q in range(4)]
    assert all((a == b).all() for a, b in zip(new, old, strict=True))


def test_breakout_takes_its_ball_quadrants_and_other_usable_labels() -> None:
    # score is low-entropy, blocks_hit_count takes 2 values: neither makes tertiles; nor does
    # a block_bit_map_<i> byte that takes 2 values (the rest are low-entropy).
    bits = tuple(f"block_bit_map_{i}" for i in range(30))
    plan = plan_fewshot(_manifest("breakout", low=("score", *bits[1:]),
                                  distinct={"blocks_hit_count": 2, bits[0]: 2}))
    assert isinstance(plan, FewshotPlan) and plan.known is None
    assert (plan.obj, plan.x_label, plan.y_label) == ("ball", "ball_x", "ball_y")
    assert plan.base_tasks == ("player_x",)
    idx = labels_for("breakout")
    ram = np.zeros((8, 128), np.uint8)
    ram[:, idx["ball_x"]] = [10, 20, 30, 40, 50, 60, 70, 80]
    ram[:, idx["ball_y"]] = [100, 90, 80, 70, 60, 50, 40, 30]
    classes = plan.quadrants(ram, idx)
    assert classes.x_range == (10, 81) and classes.y_range == (30, 101)
    assert classes.centre == (45, 65)  # the medians: half the frames on each side
    q = classes.classify(ram[:, idx["ball_x"]], ram[:, idx["ball_y"]])
    assert q.tolist() == [2, 2, 2, 2, 1, 1, 1, 1]
    assert classes.classify(np.array([9, 81]), np.array([50, 50])).tolist() == [-1, -1]
    for k in range(4):
        (x0, x1), (y0, y1) = classes.ranges(k)
        assert x0 < x1 and y0 < y1  # no empty class definition for the prompts


def test_derived_quadrants_keep_every_half_non_empty() -> None:
    c = quadrants_from_data("ball", "ball_x", "ball_y", np.array([5, 5, 5, 9]),
                            np.array([1, 2, 2, 2]))
    assert c.centre == (6, 2) and c.x_range == (5, 10) and c.y_range == (1, 3)
    with pytest.raises(ValueError, match="ball_y takes fewer than 2 values"):
        quadrants_from_data("ball", "ball_x", "ball_y", np.array([1, 2]), np.array([3, 3]))


@pytest.mark.parametrize("rom", annotated_games())
def test_every_annotated_game_plans_or_skips(rom: str) -> None:
    plan = plan_fewshot(_manifest(rom))
    if rom in NO_POSITION_PAIR:
        assert isinstance(plan, str) and "no (x, y) position pair" in plan
    else:
        assert isinstance(plan, FewshotPlan) and plan.base_tasks
        assert {plan.x_label, plan.y_label}.isdisjoint(plan.base_tasks)


def test_a_low_entropy_pair_is_a_data_problem_not_a_skip() -> None:
    with pytest.raises(DatasetError, match="ball_x/ball_y\\) is low-entropy"):
        plan_fewshot(_manifest("breakout", low=("ball_y",)))
    plan = plan_fewshot(_manifest("boxing", low=("player_x",)))  # the next pair is used
    assert isinstance(plan, FewshotPlan) and plan.obj == "enemy"


def test_a_game_without_a_position_pair_is_skipped_before_any_compute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / MANIFEST).write_text(_manifest("skiing").to_json())

    def no_compute(*args: object, **kwargs: object) -> None:
        raise AssertionError("a skipped stage must not load the encoder or the data")

    monkeypatch.setattr(fewshot, "load_frozen_encoder", no_compute)
    monkeypatch.setattr(fewshot, "load_modalities", no_compute)
    cfg = load_config("smoke", sets=["game=ALE/Skiing-v5"])
    with caplog.at_level(logging.WARNING, logger="arcadelab"):
        res = fewshot.run_fewshot_stage(cfg, tmp_path)
    assert res.skipped.startswith("skiing has no (x, y) position pair")
    assert res.describe() == f"skipped: {res.skipped}" and res.curve.empty
    assert [r.getMessage() for r in caplog.records] == [f"fewshot: skipped: {res.skipped}"]
