"""`--resume` compares a checkpoint's recorded config field by field."""

from __future__ import annotations

import copy

from pipelines.core.config import load_config
from pipelines.rl.resume_match import resume_differences, resume_fields


def test_same_config_and_run_length_changes_resume() -> None:
    saved = resume_fields(load_config("smoke"))
    longer = load_config("smoke", sets=["rl.iterations=500", "rl.evaluation_every=7"])
    assert resume_differences(saved, longer) == []


def test_a_changed_field_is_named() -> None:
    saved = resume_fields(load_config("smoke"))
    diffs = resume_differences(saved, load_config("smoke", sets=["rl.lr=0.001"]))
    assert len(diffs) == 1 and diffs[0].startswith("rl.lr (")
    assert resume_differences(saved, load_config("smoke", sets=["seed=3"]))[0].startswith("seed")


def test_a_field_added_since_the_checkpoint_matches_at_its_default() -> None:
    # A checkpoint written before `rl.curriculum.order` and `rl.actions` existed.
    saved = copy.deepcopy(resume_fields(load_config("smoke")))
    del saved["rl"]["curriculum"]["order"]
    del saved["rl"]["actions"]
    assert resume_differences(saved, load_config("smoke")) == []
    moved = resume_differences(saved, load_config("smoke", sets=["rl.curriculum.order=mix"]))
    assert moved == ["rl.curriculum.order (new field, 'mix' != default 'promote')"]


def test_a_field_the_code_dropped_is_ignored() -> None:
    saved = copy.deepcopy(resume_fields(load_config("smoke")))
    saved["rl"]["retired_knob"] = 3
    assert resume_differences(saved, load_config("smoke")) == []


def test_the_encoder_lr_scale_matters_only_when_fine_tuning() -> None:
    old = copy.deepcopy(resume_fields(load_config("smoke")))
    old["rl"]["finetune_lr_scale"] = 0.1  # a scratch checkpoint from before the default moved
    assert resume_differences(old, load_config("smoke")) == []
    tuned = resume_fields(load_config("smoke", sets=["rl.transfer=finetune",
                                                      "rl.finetune_lr_scale=0.1"]))
    assert resume_differences(tuned, load_config("smoke", sets=["rl.transfer=finetune"])) == [
        "rl.finetune_lr_scale (0.1 -> 1.0)"]
