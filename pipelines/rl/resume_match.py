"""Whether an RL checkpoint may be resumed under the current config.

A checkpoint records the config fields its training depends on (everything but run length).
Resuming compares field by field rather than by one hash, so that a field added to the code
after the checkpoint was written (absent from the record) blocks the resume only when it is set
away from its default; a default reproduces what the old code did by construction.
"""

from __future__ import annotations

from typing import Any

from pipelines.core.config import ArcadeConfig, RLConfig

# Fields that only say how long or how often: a resumed run may change them.
RUN_LENGTH_FIELDS = ("iterations", "checkpoint_every", "evaluation_every",
                     "evaluation_episodes", "video_max_steps", "register_policy",
                     "num_env_runners", "num_learners", "num_gpus_per_learner",
                     "env_threads", "torch_threads")


def _rl_fields(rl: RLConfig) -> dict[str, Any]:
    # The encoder's own lr scale acts only when it is fine-tuned (its default moved in
    # session 8; scratch and frozen checkpoints did not depend on it).
    inert = () if rl.transfer == "finetune" else ("finetune_lr_scale",)
    return rl.model_dump(mode="json", exclude={*RUN_LENGTH_FIELDS, *inert})


def resume_fields(cfg: ArcadeConfig) -> dict[str, Any]:
    """What a checkpoint's training depends on: game, seed and the rl section's science."""
    return {"game": cfg.game, "seed": cfg.seed, "rl": _rl_fields(cfg.rl)}


def _differences(saved: dict[str, Any], now: dict[str, Any], default: dict[str, Any],
                 prefix: str) -> list[str]:
    out: list[str] = []
    for name, value in now.items():
        where = f"{prefix}{name}"
        base = default.get(name) if isinstance(default, dict) else None
        if name not in saved:
            if value != base:  # added since the checkpoint and set away from its default
                out.append(f"{where} (new field, {value!r} != default {base!r})")
        elif isinstance(value, dict) and isinstance(saved[name], dict):
            out += _differences(saved[name], value, base or {}, f"{where}.")
        elif saved[name] != value:
            out.append(f"{where} ({saved[name]!r} -> {value!r})")
    # A field the code no longer has cannot be compared: the checkpoint's weights still load.
    return out


def resume_differences(saved: dict[str, Any], cfg: ArcadeConfig) -> list[str]:
    """The fields that differ between a checkpoint's recorded config and `cfg` (empty: resume)."""
    defaults = {"rl": _rl_fields(RLConfig())}
    return _differences(saved, resume_fields(cfg), defaults, "")
