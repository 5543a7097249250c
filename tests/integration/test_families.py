"""The multimodal, multi-task, GAN and few-shot flows on the smoke dataset, with a real local
Ray, Prefect's test harness and MLflow on a temporary SQLite file; results read back through
the MLflow client. Bad input (a dataset without a modality, k above the examples) fails with
one clear error before anything is logged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Run

from pipelines.core import tracking
from pipelines.core.config import load_config
from pipelines.data.dataset import DatasetWriter, read_split, verify

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def _cfg(smoke_dataset, tmp_path: Path, *sets: str):
    """Smoke config on the session's dataset (reused by the data stage), private MLflow."""
    ds_cfg, _ = smoke_dataset
    return load_config("smoke", sets=sets, runtime={
        "work_dir": ds_cfg.runtime.work_dir,
        "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'm.db'}"})


def _stage_run(cfg, flow: str) -> tuple[MlflowClient, Run]:
    client = MlflowClient(tracking.tracking_uri(cfg))
    exp = client.get_experiment_by_name(f"arcadelab/{flow}")
    runs = client.search_runs([exp.experiment_id])
    stage = [r for r in runs if r.data.tags.get("arcadelab.stage") == flow]
    assert len(stage) == 1 and "mlflow.parentRunId" in stage[0].data.tags
    assert stage[0].info.status == "FINISHED"
    return client, stage[0]


def _artifacts(client: MlflowClient, run: Run, folder: str) -> set[str]:
    return {a.path for a in client.list_artifacts(run.info.run_id, folder)}


def test_multimodal_flow(prefect_harness: None, smoke_dataset, tmp_path: Path) -> None:
    from flows.pipeline import multimodal_flow

    cfg = _cfg(smoke_dataset, tmp_path)
    result = multimodal_flow(cfg)
    res = result.stages["multimodal"]
    assert "event macro-F1" in res.describe()
    # 3 unimodal + 4 multimodal subsets x 6 fusions, every score a probability
    assert len(res.fusion) == 3 + 4 * 6
    assert res.fusion[["macro_f1", "f1", "accuracy"]].stack().between(0, 1).all()
    assert set(res.colearning.model) == {"teacher (RAM)", "frame only", "frame + RAM teacher"}
    client, run = _stage_run(cfg, "multimodal")
    m = run.data.metrics
    assert 0 <= m["mm/fusion/VAR/tensor/macro_f1"] <= 1
    assert 0 <= m["mm/fusion/V/unimodal/macro_f1"] <= 1
    assert m["mm/alignment/chance"] == pytest.approx(1 / (2 * cfg.multimodal.align_window + 1))
    assert 0 <= m["mm/alignment/accuracy"] <= 1 and m["mm/alignment/test_onsets"] >= 2
    for cond in ("both", "video", "audio"):
        assert m[f"mm/autoencoder/sound_steps/video_from_{cond}_mse"] >= 0
    assert m["mm/translation/frame_to_ram/ball_x/mae"] >= 0
    assert m["mm/translation/ram_to_frame/fg_mse"] >= 0
    for towers in (2, 3):
        assert 0 <= m[f"mm/retrieval/{towers}tower/frame_to_ram_recall_at_5"] <= 1
    assert "mm/retrieval/3tower/test_sound_pairs" in m
    assert run.data.tags["arcadelab.frame_encoder"].startswith("random init")
    assert {"mm/fusion/fusion.csv", "mm/fusion/fusion.md", "mm/fusion/fusion_grid_f1.md",
            "mm/fusion/fusion_f1.png"} <= _artifacts(client, run, "mm/fusion")
    assert {"mm/alignment/examples.png"} <= _artifacts(client, run, "mm/alignment")
    assert {"mm/translation/ram_to_frame.png"} <= _artifacts(client, run, "mm/translation")
    assert _artifacts(client, run, "mm/autoencoder")


def test_multitask_flow(prefect_harness: None, smoke_dataset, tmp_path: Path) -> None:
    from flows.pipeline import multitask_flow

    # The end-to-end NatureCNN trunk here; the features trunk is tested in-process
    # (tests/pipelines/multitask/test_multitask_stage.py).
    cfg = _cfg(smoke_dataset, tmp_path, "multitask.trunk=cnn", "multitask.max_train_rows=128",
               "multitask.epochs=1")
    res = multitask_flow(cfg).stages["multitask"]
    assert res.trunk == "cnn"
    table = res.table.set_index("scheme")
    labels = list(res.labels)
    assert list(table.index) == ["single-task", "hard sharing", "soft sharing"]
    assert table.loc["single-task", "models"] == len(labels)
    assert table[labels].stack().between(0, 1).all()
    # one shared encoder costs less than one per task
    hard, soft = table.loc["hard sharing"], table.loc["soft sharing"]
    assert hard.params < soft.params and hard.train_mflops_per_example < \
        soft.train_mflops_per_example
    client, run = _stage_run(cfg, "multitask")
    assert run.data.metrics["mtl/hard/models"] == 1
    assert 0 <= run.data.metrics[f"mtl/soft/f1/{labels[0]}"] <= 1
    assert {"mtl/multitask.csv", "mtl/multitask.md", "mtl/multitask_f1.png"} <= _artifacts(
        client, run, "mtl")


def test_gan_flow(prefect_harness: None, smoke_dataset, tmp_path: Path) -> None:
    from flows.pipeline import gan_flow

    cfg = _cfg(smoke_dataset, tmp_path, "gan.epochs=2")
    res = gan_flow(cfg).stages["gan"]
    assert len(res.frechet) == 3 and min(res.frechet) >= 0 and res.real_floor >= 0
    client, run = _stage_run(cfg, "gan")
    history = client.get_metric_history(run.info.run_id, "gan/frechet_encoder")
    assert [h.step for h in history] == [0, 1, 2]
    assert len(client.get_metric_history(run.info.run_id, "gan/d_loss")) == 2
    assert "not Inception FID" in run.data.tags["arcadelab.frechet_space"]
    samples = _artifacts(client, run, "gan/samples")
    assert {f"gan/samples/epoch_{e:03d}.png" for e in range(3)} <= samples
    assert {"gan/frechet.png", "gan/samples_final.png"} <= _artifacts(client, run, "gan")


def test_fewshot_flow(prefect_harness: None, smoke_dataset, tmp_path: Path) -> None:
    from flows.pipeline import fewshot_flow

    cfg = _cfg(smoke_dataset, tmp_path)
    res = fewshot_flow(cfg).stages["fewshot"]
    assert set(res.curve.k) == set(cfg.fewshot.shots)
    assert res.curve.embedding.nunique() == 3
    assert res.curve.accuracy.between(0, 1).all()
    assert res.zero_shot["chance"] == 0.25 and 0 <= res.zero_shot["accuracy"] <= 1
    client, run = _stage_run(cfg, "fewshot")
    history = client.get_metric_history(run.info.run_id,
                                        "fewshot/proto/frozen_encoder/accuracy")
    assert sorted(h.step for h in history) == sorted(cfg.fewshot.shots)
    assert "fewshot/zeroshot/accuracy" in run.data.metrics
    assert {"fewshot/few_shot_accuracy.csv", "fewshot/few_shot_accuracy.png"} <= _artifacts(
        client, run, "fewshot")


def _without(smoke_dataset, tmp_path: Path, column: str) -> Path:
    """A copy of the smoke dataset whose shards lack `column`."""
    _, data = smoke_dataset
    m = verify(data.path)
    path = tmp_path / f"no-{column}"
    with DatasetWriter(path) as w:
        for split in ("train", "val", "test"):
            w.write_shard(read_split(data.path, split).drop_columns([column]), split)
        w.commit(type(m)(**{**m.__dict__, "shards": tuple(w.shards)}))
    return path


@pytest.mark.parametrize("column", ["sound", "ram"])
def test_multimodal_refuses_a_dataset_without_a_modality(smoke_dataset, tmp_path: Path,
                                                         column: str) -> None:
    from pipelines.data.modalities import ModalityError
    from pipelines.multimodal.stage import run_multimodal_stage

    path = _without(smoke_dataset, tmp_path, column)
    cfg = _cfg(smoke_dataset, tmp_path)
    with tracking.stage_run(cfg, "multimodal") as run, pytest.raises(
            ModalityError, match=f"has no '{column}' column .* the multimodal stage needs"):
        run_multimodal_stage(cfg, path)
    logged = MlflowClient(tracking.tracking_uri(cfg)).get_run(run.info.run_id)
    assert not logged.data.metrics  # nothing half-written


def test_fewshot_refuses_k_above_the_examples(smoke_dataset, tmp_path: Path) -> None:
    from pipelines.fewshot.stage import FewShotError, run_fewshot_stage

    cfg = _cfg(smoke_dataset, tmp_path, "fewshot.shots=[1,100000]")
    with tracking.stage_run(cfg, "fewshot") as run, pytest.raises(
            FewShotError, match=r"k=100000 examples per class, but the train split has fewer"):
        run_fewshot_stage(cfg, smoke_dataset[1].path)
    logged = MlflowClient(tracking.tracking_uri(cfg)).get_run(run.info.run_id)
    assert not logged.data.metrics


def test_pipeline_runs_independent_stages_concurrently(prefect_harness: None, smoke_dataset,
                                                       tmp_path: Path) -> None:
    """With max_concurrent_stages=2, gan and fewshot (both take only the dataset here) run at
    the same time after data: their stage runs overlap, and each is a normal child run."""
    from flows.pipeline import pipeline_flow

    cfg = _cfg(smoke_dataset, tmp_path, "pipeline.stages=[data,gan,fewshot]",
               "pipeline.max_concurrent_stages=2", "gan.encoder=random",
               "fewshot.encoder=random")
    result = pipeline_flow(cfg)
    assert set(result.stages) == {"data", "gan", "fewshot"}
    client = MlflowClient(tracking.tracking_uri(cfg))
    runs = {r.data.tags["arcadelab.stage"]: r.info for r in client.search_runs(
        [result.experiment_id], f"tags.`mlflow.parentRunId` = '{result.mlflow_run_id}'")}
    assert set(runs) == {"data", "gan", "fewshot"}
    assert all(r.status == "FINISHED" for r in runs.values())
    gan, few, data = runs["gan"], runs["fewshot"], runs["data"]
    assert min(gan.start_time, few.start_time) >= data.end_time  # both waited for data
    assert max(gan.start_time, few.start_time) < min(gan.end_time, few.end_time)  # overlap
