"""Zero-shot policy transfer, unit level: the variant grid and its validation, which variants
count as seen, and the greedy evaluation of a tiny random policy on real ALE variants."""

from __future__ import annotations

import pytest
import torch

from models.actor_critic import ActorCritic
from models.encoder import EncoderSpec, build_encoder
from pipelines.core.config import ConfigError, load_config
from pipelines.rl.policy_transfer import (
    PolicyTransferError,
    VariantResult,
    env_kwargs,
    evaluate_variants,
    summary,
    trained_variants,
    variant_grid,
)

GAME = "ALE/Pong-v5"


def tiny_policy(seed: int = 0) -> ActorCritic:
    torch.manual_seed(seed)
    spec = EncoderSpec("small_cnn", 4, 84, 84, 16)
    return ActorCritic(build_encoder(spec), spec.feature_dim, 6)


def test_grid_defaults_to_every_variant_the_game_has() -> None:
    assert len(variant_grid(load_config())) == 8  # Pong: modes 0-1 x difficulties 0-3
    cfg = load_config(sets=["policy_transfer.modes=[1]", "policy_transfer.difficulties=[0,3]"])
    assert variant_grid(cfg) == [(1, 0), (1, 3)]


@pytest.mark.parametrize(("expr", "message"), [
    ("policy_transfer.modes=[0,2]", "policy_transfer.modes: [2] not available in ALE/Pong-v5"),
    ("policy_transfer.difficulties=[4]", "policy_transfer.difficulties: [4] not available"),
    ("policy_transfer.modes=[0,0]", "policy_transfer.modes: must be distinct"),
    ("policy_transfer.difficulties=[-1]", "policy_transfer.difficulties: must be integers"),
    ("policy_transfer.episodes=0", "policy_transfer.episodes"),
])
def test_variants_the_game_lacks_are_refused_naming_the_field(expr: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config("smoke", sets=[expr])


def test_defaults_fit_any_game() -> None:
    # Unset lists mean "all the game has", so another game needs no policy_transfer settings.
    assert load_config("smoke", sets=["game=ALE/Breakout-v5"]).policy_transfer.modes is None


def test_seen_variants_come_from_the_training_curriculum() -> None:
    assert trained_variants(GAME, None) == {(0, 0)}
    assert trained_variants(GAME, {"curriculum": {"tasks": []}}) == {(0, 0)}
    tasks = [{"difficulty": 0}, {"difficulty": 2}, {"mode": 1, "difficulty": 3}]
    assert trained_variants(GAME, {"curriculum": {"tasks": tasks}}) == {(0, 0), (0, 2), (1, 3)}
    assert trained_variants(GAME, {"curriculum": {"tasks": [{"frameskip": 2}]}}) == {(0, 0)}


def test_summary_averages_seen_and_unseen_variants() -> None:
    rows = (VariantResult(0, 0, True, (-2.0, -4.0), (10, 10)),
            VariantResult(0, 1, False, (-1.0,), (10,)),
            VariantResult(1, 0, False, (-5.0,), (10,)))
    assert summary(rows) == (-3.0, -3.0)
    assert summary(rows[1:]) == (None, -3.0)
    assert rows[0].key == "m0_d0" and rows[0].std == 1.0


def test_greedy_evaluation_over_variants_is_seeded() -> None:
    cfg = load_config("smoke", sets=["policy_transfer.max_episode_steps=25"])
    variants = [(0, 0), (1, 3)]
    run = lambda: evaluate_variants(tiny_policy(), env_kwargs(cfg), variants,  # noqa: E731
                                    frozenset({(0, 0)}), episodes=2, seed=3)
    results = run()
    assert [(r.mode, r.difficulty, r.seen) for r in results] == [(0, 0, True), (1, 3, False)]
    for r in results:
        assert len(r.returns) == 2 and all(-21 <= x <= 21 for x in r.returns)
        assert all(1 <= s <= 25 for s in r.steps)  # the cap is in agent steps
    assert run() == results  # argmax actions and seeded no-op starts: same episodes again


def test_a_two_action_policy_plays_its_own_action_set() -> None:
    """A policy registered with actions=up_down plays Pong's up/down pair, whatever rl.actions
    says now; the same net in the full action set is refused (2 outputs, 6 actions)."""
    torch.manual_seed(0)
    spec = EncoderSpec("small_cnn", 4, 84, 84, 16)
    net = ActorCritic(build_encoder(spec), spec.feature_dim, 2)
    cfg = load_config("smoke", sets=["policy_transfer.max_episode_steps=10"])
    (result,) = evaluate_variants(net, env_kwargs(cfg, "up_down"), [(0, 0)],
                                  frozenset({(0, 0)}), episodes=1, seed=0)
    assert 1 <= result.steps[0] <= 10
    with pytest.raises(PolicyTransferError, match=r"policy has 2 actions, .* has 6"):
        evaluate_variants(net, env_kwargs(cfg), [(0, 0)], frozenset(), episodes=1, seed=0)
