"""Zero-shot policy transfer: the registered Pong policy, played greedily on game variants.

ALE games come in variants (modes x difficulty switches; Pong: 2 x 4, difficulties 2 and 3
halve the player's paddle). The policy trained on one of them (or on a curriculum's few) is
evaluated, unchanged, on every variant: the ones it trained on are "seen", the rest are
zero-shot (Farebrother et al. 2018, "Generalization and Regularization in DQN", evaluated
DQN on other modes and difficulties of the games it trained on). Metrics: `fewshot/policy/…`.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import yaml
from mlflow.exceptions import MlflowException

from models.actor_critic import ActorCritic
from models.policy_checkpoint import PolicyCheckpointError
from pipelines.core import registry
from pipelines.core.config import ArcadeConfig, game_variants
from pipelines.core.tracking import log_metrics
from pipelines.rl.policy_video import greedy_episode, policy_env
from pipelines.rl.train import RLError

log = logging.getLogger("arcadelab")

PREFIX = "fewshot/policy"
Variant = tuple[int, int]  # (mode, difficulty)


class PolicyTransferError(RLError):
    """A policy that cannot be evaluated here: none registered, or it does not fit the env."""


@dataclass(frozen=True)
class VariantResult:
    """Greedy episodes of one game variant."""

    mode: int
    difficulty: int
    seen: bool
    returns: tuple[float, ...]
    steps: tuple[int, ...]

    @property
    def key(self) -> str:
        return variant_key((self.mode, self.difficulty))

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))

    def row(self) -> dict[str, Any]:
        return {"variant": self.key, "mode": self.mode, "difficulty": self.difficulty,
                "seen": self.seen, "return_mean": self.mean, "return_std": self.std,
                "episodes": len(self.returns), "returns": list(self.returns),
                "steps": list(self.steps)}


@dataclass(frozen=True)
class PolicyTransferResult:
    alias: str
    policy_version: str
    variants: tuple[VariantResult, ...]
    seen_return: float | None
    unseen_return_mean: float | None

    def describe(self) -> str:
        def fmt(x: float | None) -> str:
            return "n/a" if x is None else f"{x:+.2f}"
        return (f"{registry.POLICY_MODEL}@{self.alias} v{self.policy_version} on "
                f"{len(self.variants)} variants: seen {fmt(self.seen_return)}, unseen "
                f"(zero-shot) {fmt(self.unseen_return_mean)}")


def variant_key(variant: Variant) -> str:
    return f"m{variant[0]}_d{variant[1]}"


def default_variant(game: str) -> Variant:
    """The variant a plain env plays (mode/difficulty None): the ROM's first ones (Pong: 0/0)."""
    modes, difficulties = game_variants(game)
    return modes[0], difficulties[0]


def variant_grid(cfg: ArcadeConfig) -> list[Variant]:
    """modes x difficulties asked for; an unset list means all the game has."""
    modes, difficulties = game_variants(cfg.game)
    pt = cfg.policy_transfer
    return [(m, d) for m in (pt.modes or modes) for d in (pt.difficulties or difficulties)]


def trained_variants(game: str, rl_config: dict[str, Any] | None) -> frozenset[Variant]:
    """The variants a policy trained on: every curriculum task of its run's `rl` config
    (missing keys: the default), else only the default variant."""
    mode, difficulty = default_variant(game)
    tasks = ((rl_config or {}).get("curriculum") or {}).get("tasks") or ()
    seen = {(int(t.get("mode", mode)), int(t.get("difficulty", difficulty))) for t in tasks}
    return frozenset(seen or {(mode, difficulty)})


def training_rl_config(tags: dict[str, str]) -> dict[str, Any] | None:
    """The `rl` section of the run that registered the policy (its config.yaml), if readable."""
    run_id = tags.get("run_id")
    if not run_id:
        return None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="config.yaml",
                                                       dst_path=tmp)
            rl = yaml.safe_load(Path(path).read_text()).get("rl")
    except (MlflowException, OSError, yaml.YAMLError, AttributeError) as exc:
        log.warning("policy_transfer: no training config for run %s (%s); assuming the "
                    "default variant was the one trained on", run_id, exc)
        return None
    return rl if isinstance(rl, dict) else None


def env_kwargs(cfg: ArcadeConfig, actions: str = "full") -> dict[str, Any]:
    """The RL stage's preprocessing (what the policy saw in training), this stage's cut, and
    the policy's own action set (its version's `actions` tag: a two-action policy plays up and
    down, whatever rl.actions says now)."""
    rl = cfg.rl
    return {"game": cfg.game, "frameskip": rl.frameskip, "screen_size": rl.screen_size,
            "frame_stack": rl.frame_stack, "noop_max": rl.noop_max,
            "repeat_action_probability": rl.repeat_action_probability,
            "max_episode_steps": cfg.policy_transfer.max_episode_steps, "actions": actions}


def evaluate_variant(net: ActorCritic, kwargs: dict[str, Any], variant: Variant, seen: bool,
                     episodes: int, seed: int) -> VariantResult:
    """`episodes` greedy episodes of one variant, episode i seeded `seed + i` (the same seeds
    on every variant, so variants differ by the game, not by the luck of the no-op starts)."""
    env = policy_env(kwargs, mode=variant[0], difficulty=variant[1])
    try:
        actions = int(env.action_space.n)
        if actions != net.policy.out_features:
            raise PolicyTransferError(
                f"policy has {net.policy.out_features} actions, {kwargs['game']} variant "
                f"{variant_key(variant)} has {actions}")
        played = [greedy_episode(net, env, seed + i) for i in range(episodes)]
    finally:
        env.close()
    return VariantResult(variant[0], variant[1], seen, tuple(r for r, _ in played),
                         tuple(s for _, s in played))


def evaluate_variants(net: ActorCritic, kwargs: dict[str, Any], variants: list[Variant],
                      seen: frozenset[Variant], episodes: int, seed: int
                      ) -> tuple[VariantResult, ...]:
    """Every variant in turn, with a progress line each."""
    out: list[VariantResult] = []
    for i, variant in enumerate(variants, 1):
        res = evaluate_variant(net, kwargs, variant, variant in seen, episodes, seed)
        log.info("policy_transfer: %d/%d %s (%s): return %+.2f ± %.2f over %d episodes "
                 "(%d agent steps)", i, len(variants), res.key, "seen" if res.seen else
                 "zero-shot", res.mean, res.std, len(res.returns), sum(res.steps))
        out.append(res)
    return tuple(out)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summary(results: tuple[VariantResult, ...]) -> tuple[float | None, float | None]:
    """(mean return over seen variants, mean over unseen ones); None where there are none."""
    return (_mean([r.mean for r in results if r.seen]),
            _mean([r.mean for r in results if not r.seen]))


def transfer_chart(results: tuple[VariantResult, ...], path: Path, title: str) -> Path:
    """One bar per variant (mean greedy return, std over episodes), the seen ones highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    colors = {True: "tab:orange", False: "tab:blue"}
    fig, ax = plt.subplots(figsize=(max(5.0, 0.8 * len(results) + 2), 4), dpi=110)
    ax.bar([r.key for r in results], [r.mean for r in results],
           yerr=[r.std for r in results], capsize=4, color=[colors[r.seen] for r in results])
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set(title=title, xlabel="game variant (mode, difficulty)",
           ylabel="greedy episode return (unclipped)")
    ax.legend(handles=[Patch(color=colors[True], label="seen in training"),
                       Patch(color=colors[False], label="unseen (zero-shot)")])
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def load_policy(cfg: ArcadeConfig) -> tuple[ActorCritic, str, dict[str, str]]:
    """The policy behind the alias, checked against this game and the RL env's observations."""
    alias = cfg.policy_transfer.alias
    try:
        net, spec, version = registry.load_registered_policy(alias)
        _, tags = registry.resolve(alias, registry.POLICY_MODEL)
    except (registry.RegistryError, PolicyCheckpointError) as exc:
        raise PolicyTransferError(f"policy_transfer.alias: {exc}") from None
    name = f"models:/{registry.POLICY_MODEL}@{alias} (version {version})"
    if tags.get("game", cfg.game) != cfg.game:
        raise PolicyTransferError(f"policy_transfer.alias: {name} was trained on "
                                  f"{tags['game']}, but game is {cfg.game}")
    expected = (cfg.rl.frame_stack, cfg.rl.screen_size, cfg.rl.screen_size)
    if tuple(spec.input_shape) != expected:
        raise PolicyTransferError(f"policy_transfer.alias: {name} takes input "
                                  f"{tuple(spec.input_shape)}, but the policy env gives "
                                  f"{expected}; set rl.frame_stack / rl.screen_size to match")
    return net, version, tags


def _log(cfg: ArcadeConfig, result: PolicyTransferResult) -> None:
    metrics: dict[str, float] = {}
    for r in result.variants:
        metrics |= {f"{PREFIX}/{r.key}/return": r.mean, f"{PREFIX}/{r.key}/return_std": r.std,
                    f"{PREFIX}/{r.key}/episodes": float(len(r.returns))}
    for name, value in (("seen_return", result.seen_return),
                        ("unseen_return_mean", result.unseen_return_mean)):
        if value is not None:  # no seen (or no unseen) variant among those asked for
            metrics[f"{PREFIX}/{name}"] = value
    log_metrics(metrics)
    mlflow.log_params({"policy.version": result.policy_version, "policy.alias": result.alias,
                       "policy.variants": ",".join(r.key for r in result.variants),
                       "policy.seen": ",".join(r.key for r in result.variants if r.seen),
                       "policy.episodes": cfg.policy_transfer.episodes})
    mlflow.log_dict({"policy": f"{registry.POLICY_MODEL}@{result.alias}",
                     "version": result.policy_version, "game": cfg.game,
                     "variants": [r.row() for r in result.variants]},
                    "fewshot/policy_transfer.json")
    with tempfile.TemporaryDirectory() as tmp:
        png = transfer_chart(result.variants, Path(tmp) / "policy_transfer.png",
                             f"{registry.POLICY_MODEL}@{result.alias} "
                             f"v{result.policy_version} on {cfg.game} variants")
        mlflow.log_artifact(str(png), "fewshot")


def run_policy_transfer_stage(cfg: ArcadeConfig, trained_version: str | None = None
                              ) -> PolicyTransferResult:
    """Evaluate the registered policy on every variant; logs to the active MLflow run.

    `trained_version`: the version the pipeline's rl stage registered, to warn when the
    alias points elsewhere (e.g. a reused rl stage and an alias moved since)."""
    pt = cfg.policy_transfer
    net, version, tags = load_policy(cfg)
    if trained_version is not None and trained_version != version:
        log.warning("policy_transfer: %s@%s is version %s, not the rl stage's version %s",
                    registry.POLICY_MODEL, pt.alias, version, trained_version)
    mlflow.set_tags({"arcadelab.policy": f"{registry.POLICY_MODEL}@{pt.alias}",
                     "arcadelab.policy_version": version})
    seen = trained_variants(cfg.game, training_rl_config(tags))
    variants = variant_grid(cfg)
    log.info("policy_transfer: %s@%s v%s on %d variants x %d episodes (seen: %s)",
             registry.POLICY_MODEL, pt.alias, version, len(variants), pt.episodes,
             ", ".join(sorted(variant_key(v) for v in seen)))
    kwargs = env_kwargs(cfg, tags.get("actions", "full"))
    results = evaluate_variants(net, kwargs, variants, seen, pt.episodes, cfg.seed)
    result = PolicyTransferResult(pt.alias, version, results, *summary(results))
    _log(cfg, result)
    return result
