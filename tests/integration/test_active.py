"""Active learning and the data curriculum end to end: real Ray, Prefect (test harness), MLflow
(SQLite) and ALE, on the smoke dataset. A crash mid-loop and a re-run that continues without
losing a label; a person labelling through `arcadelab label export/import`; the curriculum."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from pipelines.core import tracking

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def _cfg(smoke_dataset: tuple, tmp_path: Path, *sets: str) -> object:
    """The smoke preset on the session's dataset (reused, not collected again)."""
    from pipelines.core.config import load_config

    work = smoke_dataset[0].runtime.work_dir
    return load_config("smoke", sets=sets, runtime={
        "work_dir": work, "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"})


def _stage_run(cfg: object, result: object, stage: str) -> object:
    client = MlflowClient(tracking.tracking_uri(cfg))
    runs = client.search_runs([result.experiment_id],
                              f"tags.`mlflow.parentRunId` = '{result.mlflow_run_id}'")
    return next(r for r in runs if r.data.tags["arcadelab.stage"] == stage)


def test_loop_resumes_after_a_crash_without_losing_labels(
        prefect_harness: None, ray_local: None, smoke_dataset: tuple, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.pipeline import active_flow
    from pipelines.active import stage as active_stage
    from pipelines.active.state import load_state

    cfg = _cfg(smoke_dataset, tmp_path, "active.strategies=[random,margin,bald,coreset]",
               "active.target_fraction=0.3", "active.stream=false")
    real_fit, calls = active_stage.fit_head, []

    def crash_in_margins_second_round(x: np.ndarray, *args: object, **kwargs: object) -> object:
        calls.append(len(x))  # round 1 trains on 40 labels: random's first, then margin's
        if calls.count(40) == 2:
            raise RuntimeError("killed mid-round")
        return real_fit(x, *args, **kwargs)

    monkeypatch.setattr(active_stage, "fit_head", crash_in_margins_second_round)
    with pytest.raises(RuntimeError, match="killed mid-round"):
        active_flow(cfg)
    monkeypatch.setattr(active_stage, "fit_head", real_fit)

    state_dir = next((cfg.runtime.work_dir / "active").glob("*/margin.json")).parent
    before = load_state(state_dir / "margin.json")
    assert before.round == 1 and len(before.labelled) == 20 and len(before.pending) == 20
    assert load_state(state_dir / "random.json").done
    assert not (state_dir / "bald.json").exists()

    result = active_flow(cfg.model_copy(update={"active": cfg.active.model_copy(
        update={"stream": True})}))
    res = result.stages["active"]
    after = load_state(state_dir / "margin.json")
    assert after.done and len(after.labelled) == cfg.active.budget
    # Continued, not restarted: the labels of the first run, then exactly its pending query.
    assert after.labelled[:20] == before.labelled
    assert after.labelled[20:40] == before.pending
    assert after.history[0] == before.history[0]
    assert [r.round for r in after.history] == [0, 1, 2]
    assert len(set(after.labelled)) == len(after.labelled)

    # The re-run's stage run holds the whole curve of every strategy, round by round.
    run = _stage_run(cfg, result, "active")
    client = MlflowClient(tracking.tracking_uri(cfg))
    for s in ("random", "margin", "bald", "coreset"):
        hist = client.get_metric_history(run.info.run_id, f"al/{s}/f1")
        assert sorted(m.step for m in hist) == [0, 1, 2]
        labels = client.get_metric_history(run.info.run_id, f"al/{s}/labels")
        assert sorted(m.value for m in labels) == [20, 40, 60]
    m = run.data.metrics
    assert m["al/label_savings_vs_random"] == max(v for k, v in m.items()
                                                  if k.startswith("al/label_savings_vs_random/"))
    assert m["al/label_savings_vs_random"] == pytest.approx(max(res.savings.values()))
    assert 0 < m["al/stream/labels_used"] <= cfg.active.stream_budget
    assert run.data.tags["arcadelab.encoder"].startswith("random init")
    artifacts = {f.path for f in client.list_artifacts(run.info.run_id, "al")}
    assert {"al/f1_vs_labels.png", "al/curves.csv", "al/savings.csv"} <= artifacts
    assert "stream" in res.describe()


def test_a_person_labels_through_export_and_import(
        prefect_harness: None, ray_local: None, smoke_dataset: tuple, tmp_path: Path) -> None:
    from flows.cli import app
    from flows.pipeline import active_flow
    from pipelines.active.pool import frame_id
    from pipelines.active.state import load_state
    from pipelines.data.dataset import read_split

    sets = ["active.oracle=human", "active.strategies=[margin]", "active.stream=false",
            "active.seed_size=10", "active.batch_size=10", "active.budget=30"]
    cfg = _cfg(smoke_dataset, tmp_path, *sets)
    first = active_flow(cfg).stages["active"]
    assert first.waiting == {"margin": 10}
    state_file = first.state_dir / "margin.json"

    runner = CliRunner()
    opts = ["--preset", "smoke", "--work-dir", str(cfg.runtime.work_dir), "--mlflow-uri",
            cfg.runtime.mlflow_tracking_uri, *[x for s in sets for x in ("--set", s)]]
    out = tmp_path / "to-label"
    res = runner.invoke(app, ["label", "export", "--out", str(out), *opts])
    assert res.exit_code == 0, res.output
    with open(out / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10 and all(r["ball_x"] == "" for r in rows)
    assert len(list((out / "frames").glob("*.png"))) == 10
    again = runner.invoke(app, ["label", "export", "--out", str(out), *opts])
    assert again.exit_code == 1 and "exists" in again.output

    # The person reads positions off the screen; here the RAM tells us what they would type.
    train = read_split(smoke_dataset[1].path, "train", ["episode_id", "step", "ram"])
    ram = {frame_id(e, s): np.frombuffer(r, np.uint8) for e, s, r in zip(
        train.column("episode_id").to_pylist(), train.column("step").to_pylist(),
        train.column("ram").to_pylist(), strict=True)}
    truth = {r["id"]: [int(ram[r["id"]][i]) for i in (49, 54, 51)] for r in rows}

    def write(path: Path, lines: list[list[object]]) -> Path:
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([["id", "png", "ball_x", "ball_y", "player_y"], *lines])
        return path

    good = [[r["id"], r["png"], *truth[r["id"]]] for r in rows]
    bad = write(tmp_path / "bad.csv", [*good[:7], [rows[7]["id"], "", 5, 300, 1],
                                       [rows[8]["id"], "", 5, "", 1], good[0],
                                       ["t999-e0000-s00001", "", 1, 2, 3]])
    saved = state_file.read_bytes()
    res = runner.invoke(app, ["label", "import", str(bad), *opts])
    assert res.exit_code == 2
    for problem in ("out of range", "ball_y = '' is empty", "duplicate id", "unknown id",
                    "nothing imported"):
        assert problem in res.output
    assert state_file.read_bytes() == saved  # nothing half-imported

    res = runner.invoke(app, ["label", "import", str(write(tmp_path / "good.csv", good)),
                              *opts])
    assert res.exit_code == 0, res.output
    state = load_state(state_file)
    assert not state.pending and set(state.human) == set(truth)
    assert {k: list(state.labels[k]) for k in truth} == truth

    second = active_flow(cfg).stages["active"]  # trains on the person's labels, asks again
    state = load_state(state_file)
    assert [r.labels for r in state.history] == [10] and len(state.pending) == 10
    assert second.waiting == {"margin": 10}


def test_curriculum_flow_compares_orders_on_one_budget(
        prefect_harness: None, ray_local: None, smoke_dataset: tuple, tmp_path: Path) -> None:
    from flows.pipeline import data_curriculum_flow

    cfg = _cfg(smoke_dataset, tmp_path, "data_curriculum.difficulty=ball_speed")
    result = data_curriculum_flow(cfg)
    res = result.stages["data_curriculum"]
    c = cfg.data_curriculum
    runs = {(o, p) for o in c.orders for p in c.pacings} | {("baseline", "none")}
    assert set(map(tuple, res.final[["order", "pacing"]].to_numpy())) == runs
    assert set(res.curves.step) == {c.eval_every, c.steps}
    run = _stage_run(cfg, result, "data_curriculum")
    m = run.data.metrics
    for order in c.orders:
        assert 0 <= m[f"curriculum/{order}/linear/final_f1"] <= 1
        assert f"curriculum/{order}/final_f1" in m
    assert "curriculum/baseline/final_f1" in m
    client = MlflowClient(tracking.tracking_uri(cfg))
    assert len(client.get_metric_history(run.info.run_id, "curriculum/anti/linear/f1")) == 2
    files = {f.path for f in client.list_artifacts(run.info.run_id, "curriculum")}
    assert "curriculum/f1_curves.png" in files


def test_tune_sweeps_strategies_and_batch_sizes(ray_local: None, smoke_dataset: tuple,
                                                tmp_path: Path) -> None:
    """`arcadelab tune` with `tune.target=active`: a trial per (strategy, batch size), each a
    nested MLflow run with the savings against random; the best one named in the tune run."""
    from pipelines.tune.sweep import run_sweep

    cfg = _cfg(smoke_dataset, tmp_path, "tune.target=active", "active.target_fraction=0.3",
               "tune.params={strategies: [margin, entropy], batch_size: [20, 40]}")
    tracking.setup(cfg)
    with tracking.flow_run(cfg, "tune", "local") as parent, \
            tracking.stage_run(cfg, "tune", parent, "tune", "local") as run:
        result = run_sweep(cfg, run.info.run_id, smoke_dataset[1].path)
    assert result.trials == 4 and result.metric == "al/label_savings_vs_random"
    assert result.best_params["strategies"] in ("margin", "entropy")
    client = MlflowClient(tracking.tracking_uri(cfg))
    trials = client.search_runs([parent.info.experiment_id],
                                f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert sorted((t.data.params["strategies"], t.data.params["batch_size"]) for t in trials) \
        == [("entropy", "20"), ("entropy", "40"), ("margin", "20"), ("margin", "40")]
    for t in trials:
        assert t.data.tags["arcadelab.tune_target"] == "active"
        assert t.data.metrics["al/label_savings_vs_random"] >= 0
        assert 0 <= t.data.metrics["al/final_f1"] <= 1
    tune_run = client.get_run(run.info.run_id)
    assert tune_run.data.metrics["tune/trials"] == 4 and tune_run.data.metrics["tune/errors"] == 0
    best = json.loads(Path(client.download_artifacts(run.info.run_id, "tune/best.json",
                                                     str(tmp_path))).read_text())
    assert best["target"] == "active" and len(best["trials"]) == 4
