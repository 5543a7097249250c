"""The stage registry is the one declaration of every stage: the config, the CLI, the flows and
the cache keys agree with it, and each entry points at a real task with the declared result."""

from __future__ import annotations

import importlib
import typing

import pytest
from prefect import Flow, Task
from typer.testing import CliRunner

from flows.stage_registry import PIPELINE_STAGES, REGISTRY, Stage, stage
from pipelines.core.config import STAGES, ArcadeConfig, load_config
from pipelines.core.model_refs import ENCODER_MODEL, POLICY_MODEL


def _cfg(*sets: str) -> ArcadeConfig:
    return load_config("smoke", sets=sets)


def test_pipeline_stages_are_the_configs_in_order() -> None:
    assert PIPELINE_STAGES == STAGES
    assert "tune" in REGISTRY and "tune" not in PIPELINE_STAGES  # its own command only


def test_default_order_runs_every_stage_after_its_upstream() -> None:
    for i, name in enumerate(STAGES):
        later = set(STAGES[i:])
        assert not later & set(REGISTRY[name].upstream), name
        assert set(REGISTRY[name].upstream) <= set(REGISTRY), name


@pytest.mark.parametrize("name", list(REGISTRY))
def test_entry_points_at_a_prefect_task_returning_its_result(name: str) -> None:
    spec = REGISTRY[name]
    task = spec.load_task()
    assert isinstance(task, Task), spec.task
    module, cls = spec.result.rsplit(".", 1)
    result = getattr(importlib.import_module(module), cls)
    assert callable(getattr(result, "describe", None)), spec.result
    hints = typing.get_type_hints(task.fn)
    assert hints["return"] is result, (spec.task, hints["return"], result)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_declared_inputs_name_real_config_and_models(name: str) -> None:
    spec = REGISTRY[name]
    sci = _cfg().science()
    for cfg in (_cfg(), _cfg("rl.transfer=finetune", "tune.target=active",
                             "multitask.trunk=features", "data.policy=current")):
        for read in spec.reads(cfg):
            section, _, field = read.partition(".")
            assert section in sci, read
            assert not field or field in sci[section], read
        for model, alias in spec.models(cfg):
            assert model in (ENCODER_MODEL, POLICY_MODEL) and alias, (model, alias)
        assert spec.produces(cfg) in (None, ENCODER_MODEL, POLICY_MODEL)
        assert spec.flow_stages(cfg)[-1] == name


def test_each_stage_has_its_own_flow_named_after_it() -> None:
    import flows.pipeline as pipeline

    for name in REGISTRY:
        flow = getattr(pipeline, f"{name}_flow")
        assert isinstance(flow, Flow) and flow.name == name
        assert pipeline.STAGE_FLOWS[name] is flow
        assert flow.description == REGISTRY[name].doc


def test_dataset_readers_run_the_data_stage_first_when_alone() -> None:
    assert REGISTRY["gan"].flow_stages(_cfg()) == ("data", "gan")
    assert REGISTRY["rl"].flow_stages(_cfg()) == ("rl",)
    assert REGISTRY["tune"].flow_stages(_cfg("tune.target=active")) == ("data", "tune")
    assert REGISTRY["tune"].flow_stages(_cfg()) == ("tune",)


def test_unknown_stage_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: data, pretrain"):
        stage("pretrian")
    assert isinstance(stage("data"), Stage)


def test_cli_run_lists_every_stage_with_its_description() -> None:
    from flows.cli import app

    out = CliRunner().invoke(app, ["run", "--help"], terminal_width=200).output
    for name, spec in REGISTRY.items():
        assert f"{name}: {spec.doc.split()[0]}" in out, name
