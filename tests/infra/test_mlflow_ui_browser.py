"""The MLflow UI as a user sees it, in a real headless Chromium (Playwright): after a smoke
pipeline run, `arcadelab ui` serves the store on 127.0.0.1 and the page shows the experiment,
the parent run with its stage runs, a metric chart, and the stage's pictures (every image the
RL run logged: the learning curve today, the gameplay GIF once the RL stage logs one).
A screenshot goes to the test's tmp dir, or to $ARCADELAB_UI_SCREENSHOT (how
docs/img/mlflow_ui.png is refreshed: the test never writes into the repository by itself)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.servers import free_port, isolated_env, stop_group, wait_http

IMAGE_SUFFIXES = (".png", ".gif")

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def chromium() -> str | None:
    """Playwright's own Chromium if installed, else the system's (Debian: apt chromium)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ui")
    env = isolated_env(PREFECT_HOME=str(tmp / "prefect"), OMP_NUM_THREADS="1",
                       PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")  # 20 s: short
    run = subprocess.run(
        [sys.executable, "-m", "flows.cli", "pipeline", "--preset", "smoke",
         "--set", "pipeline.stages=[data,rl]",
         "--work-dir", str(tmp / "work")],
        env=env, cwd=tmp, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return tmp / "work"


@pytest.fixture(scope="module")
def ui(smoke_store: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "ui", "--work-dir", str(smoke_store),
         "--port", str(port)],
        env=isolated_env(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        start_new_session=True)  # isolated: an inherited MLFLOW_TRACKING_URI wins over --work-dir
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", proc, 180, "arcadelab ui")
        yield url
    finally:
        stop_group(proc, timeout=15)


def test_a_user_sees_runs_metrics_and_pictures(ui: str, smoke_store: Path) -> None:
    exe = chromium()
    if exe is None:
        pytest.skip("no Chromium: `playwright install chromium` cannot reach its download "
                    "host here and the system package `chromium` is not installed "
                    "(.ci/run installs it with apt-get)")
    from playwright.sync_api import expect, sync_playwright

    client = MlflowClient(f"sqlite:///{smoke_store / 'mlflow.db'}")
    exp = client.get_experiment_by_name("arcadelab/pipeline")
    runs = client.search_runs([exp.experiment_id])
    parent = next(r for r in runs if r.data.tags["arcadelab.stage"] == "flow")
    rl = next(r for r in runs if r.data.tags["arcadelab.stage"] == "rl")
    images = [a for a in _walk(client, rl.info.run_id) if a.endswith(IMAGE_SUFFIXES)]
    assert images, "the RL stage logged no picture"

    timeout = 60_000  # the UI is a big React bundle; 2 busy cores render it slowly
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(timeout)
        expect.set_options(timeout=timeout)

        # Where a person starts: the experiments list, then a click on the experiment. MLflow
        # 3.17's UI opens a fresh profile in its GenAI view, where an experiment lands on a
        # traces overview whatever its kind; a person switches to "Model training" once (the
        # UI remembers it) and the experiment shows its runs.
        page.goto(f"{ui}/#/experiments")
        page.get_by_role("link", name="arcadelab/pipeline", exact=True).first.click()
        page.wait_for_url(f"**/experiments/{exp.experiment_id}**")
        _dismiss_guidance(page)
        if "workflowType=machine_learning" not in page.url:
            page.get_by_text("Model training", exact=True).first.click()
            page.wait_for_url("**workflowType=machine_learning**")
            _dismiss_guidance(page)
        row = page.get_by_role("row").filter(has_text=parent.info.run_name)
        try:
            expect(row.first).to_be_visible()
        except AssertionError:
            page.screenshot(path=str(smoke_store / "landed.png"))
            raise AssertionError(f"the experiment opened on {page.url}, not its runs (page: "
                                 f"{smoke_store / 'landed.png'})") from None
        close = page.get_by_role("button", name="Close")  # the assistant side panel
        if close.count():
            close.first.click()
        row.first.locator("button").first.click()  # expand the parent's child runs
        for stage in ("data", "rl"):
            expect(page.get_by_role("link", name=stage, exact=True)).to_be_visible()
        shot = Path(os.environ.get("ARCADELAB_UI_SCREENSHOT", smoke_store / "mlflow_ui.png"))
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot))
        # A click on the rl stage run opens it.
        page.get_by_role("link", name="rl", exact=True).first.click()
        page.wait_for_url(f"**/runs/{rl.info.run_id}**")

        # Metric charts of the RL run: the `rl/` section, a chart per metric.
        page.goto(f"{ui}/#/experiments/{exp.experiment_id}/runs/{rl.info.run_id}/model-metrics")
        expect(page.get_by_text("rl (rl/env_steps_per_s)").first).to_be_visible()
        chart = page.locator("svg").filter(has=page.locator("path")).first
        expect(chart).to_be_visible()

        # Every picture the RL stage logged opens in the artifact viewer as an image.
        for art in images:
            # A fresh page each: the artifact view reads the file from the URL when it mounts.
            view = browser.new_page(viewport={"width": 1400, "height": 900})
            view.set_default_timeout(timeout)
            view.goto(f"{ui}/#/experiments/{exp.experiment_id}/runs/{rl.info.run_id}/"
                      f"artifacts/{art}")
            expect(view.get_by_text(art).first).to_be_visible()
            img = view.locator("img[src^='blob:']").first
            expect(img).to_be_visible()
            view.wait_for_function("i => i.complete && i.naturalWidth > 0",
                                   arg=img.element_handle())
            view.close()
        browser.close()


def _dismiss_guidance(page: object) -> None:
    """MLflow 3's one-time feature tips ("Got it") sit over the page on a fresh profile."""
    for name in ("Got it", "Close guidance"):
        button = page.get_by_role("button", name=name)  # type: ignore[attr-defined]
        try:
            button.first.click(timeout=5_000)
            return
        except Exception:  # no tip shown: nothing to dismiss
            continue


def _walk(client: MlflowClient, run_id: str, path: str | None = None) -> list[str]:
    out: list[str] = []
    for a in client.list_artifacts(run_id, path):
        out.extend(_walk(client, run_id, a.path) if a.is_dir else [a.path])
    return out
