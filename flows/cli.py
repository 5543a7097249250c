"""`arcadelab`: run the pipeline or one stage, check a config, open the MLflow UI."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli_config import config_from_options, fail
from flows.cli_label import label_app
from flows.stage_registry import REGISTRY
from pipelines.core.config import PRESETS, ArcadeConfig, ConfigError, to_yaml
from pipelines.core.progress import QUIET_ENV
from pipelines.core.quiet import install as install_quiet

if TYPE_CHECKING:
    from flows.pipeline import FlowResult

app = typer.Typer(
    name="arcadelab",
    help="Deep-learning paradigms as pipelines over Atari games "
    "(Prefect orchestrates, Ray distributes, RLlib plays, MLflow remembers).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(label_app, name="label")  # arcadelab label export|import (flows/cli_label.py)


@app.callback()
def _entry(
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="no progress bars or lines (give it before the command)")] = False,
) -> None:
    # Before any command imports the libraries: their known noise is dropped by exact message.
    install_quiet()
    if quiet:  # an env var, so Ray workers and subprocesses are quiet too
        os.environ[QUIET_ENV] = "1"


Preset = Annotated[str, typer.Option("--preset", "-p",
                                     help=f"config preset: {', '.join(PRESETS)}")]
ConfigFiles = Annotated[list[Path] | None, typer.Option(
    "--config", "-c", help="YAML file(s) overriding the preset, applied in order")]
Sets = Annotated[list[str] | None, typer.Option(
    "--set", "-s", help="override one field: --set rl.iterations=5 (repeatable)")]
RayAddress = Annotated[str | None, typer.Option(
    "--ray-address", help="join this Ray cluster (host:port); default RAY_ADDRESS or local")]
WorkDir = Annotated[Path | None, typer.Option(
    "--work-dir", help="datasets, checkpoints and the local MLflow store (default .arcadelab)")]
MlflowUri = Annotated[str | None, typer.Option(
    "--mlflow-uri", help="MLflow tracking URI; default MLFLOW_TRACKING_URI or SQLite in work dir")]


def _run(flow_name: str, cfg: ArcadeConfig) -> None:
    from flows.pipeline import STAGE_FLOWS, pipeline_flow
    from pipelines.core.registry import RegistryError
    from pipelines.core.runtime import RayConnectionError, init_ray
    from pipelines.core.tracking import (
        TrackingUnavailableError,
        check_tracking_server,
        tracking_uri,
    )
    from pipelines.data.dataset import DatasetError
    from pipelines.rl.train import RLError, latest_checkpoint

    logging.getLogger("arcadelab").setLevel(logging.INFO)
    try:
        if cfg.runtime.resume:
            latest_checkpoint(cfg)  # nothing to resume: say so before any compute
        # A wrong cluster address or a down MLflow server fails here, before any compute.
        check_tracking_server(tracking_uri(cfg), cfg.runtime.connect_timeout_s)
        init_ray(cfg.runtime)
        flow_fn = pipeline_flow if flow_name == "pipeline" else STAGE_FLOWS[flow_name]
        result = flow_fn(cfg)
    except (RLError, RegistryError) as exc:
        raise fail(str(exc), 2) from None
    except (RayConnectionError, TrackingUnavailableError, DatasetError) as exc:
        raise fail(str(exc), 1) from None
    _print_summary(cfg, result)


def _print_summary(cfg: ArcadeConfig, result: FlowResult) -> None:
    uri = result.tracking_uri
    typer.secho(f"\narcadelab: flow '{result.flow}' finished.", fg=typer.colors.GREEN)
    typer.echo(f"  MLflow: experiment arcadelab/{result.flow}, run {result.mlflow_run_id}")
    typer.echo(f"  tracking URI: {uri}")
    typer.echo(f"  work dir: {cfg.runtime.work_dir.resolve()}")
    for stage, res in result.stages.items():
        typer.echo(f"  {stage}: {res.describe()}")
    if uri.startswith("sqlite:"):
        exe = Path(sys.executable).parent / "arcadelab"
        cli = str(exe) if exe.exists() else f"{sys.executable} -m flows.cli"
        typer.echo("Open the MLflow UI on these results:")
        typer.echo(f"  {cli} ui --work-dir {cfg.runtime.work_dir.resolve()}")
        typer.echo("  then browse http://127.0.0.1:5000")
        typer.echo(f"  (same as: mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000)")
    else:
        typer.echo(f"Open the MLflow UI at {uri}")


@app.command()
def pipeline(preset: Preset = "laptop", config: ConfigFiles = None, set_: Sets = None,
             ray_address: RayAddress = None, work_dir: WorkDir = None,
             mlflow_uri: MlflowUri = None,
             dry_run: Annotated[bool, typer.Option(
                 "--dry-run", help="say which stages would run and which would be reused from "
                 "the stage cache, and why; runs and writes nothing")] = False,
             as_json: Annotated[bool, typer.Option(
                 "--json", help="with --dry-run: print JSON instead of a table")] = False,
             resume: Annotated[bool, typer.Option(
                 "--resume", help="an RL stage cut off mid-run continues from its last "
                 "checkpoint (finished stages are reused as always)")] = False) -> None:
    """Run the whole pipeline flow (data prep -> RL training) as one Prefect flow run."""
    if as_json and not dry_run:
        raise fail("--json goes with --dry-run", 2)
    # A dry run writes nothing, so an unwritable work dir is not its business.
    cfg = config_from_options(preset, config, set_, ray_address, work_dir, mlflow_uri,
                  writable=not dry_run, resume=resume)
    point = None
    if resume:
        from flows.resume import pipeline_resume

        cfg, point = pipeline_resume(cfg)  # RL resumes only from a checkpoint of this config
    if dry_run:
        from flows.dry_run import plan_pipeline, print_plan, to_json

        plan = plan_pipeline(cfg, point)
        if as_json:
            typer.echo(to_json(plan))
        else:
            print_plan(plan)
        return
    if point is not None:
        typer.echo(point.note, err=True)
    _run("pipeline", cfg)


_STAGE_HELP = "\n\n".join(f"{name}: {spec.doc}" for name, spec in REGISTRY.items())


@app.command(help=f"Run one stage alone as its own flow (experiment arcadelab/<stage>); a "
             f"stage that reads the dataset runs the data stage first (an intact dataset is "
             f"reused).\n\n{_STAGE_HELP}")
def run(stage: Annotated[str, typer.Argument(help=f"one of: {', '.join(REGISTRY)}")],
        preset: Preset = "laptop", config: ConfigFiles = None, set_: Sets = None,
        ray_address: RayAddress = None, work_dir: WorkDir = None,
        mlflow_uri: MlflowUri = None) -> None:
    if stage not in REGISTRY:
        raise fail(f"unknown stage {stage!r} (choose from {', '.join(REGISTRY)})", 2)
    _run(stage, config_from_options(preset, config, set_, ray_address, work_dir, mlflow_uri))


@app.command("rl")
def rl_cmd(preset: Preset = "laptop", config: ConfigFiles = None, set_: Sets = None,
           ray_address: RayAddress = None, work_dir: WorkDir = None,
           mlflow_uri: MlflowUri = None,
           resume: Annotated[bool, typer.Option(
               "--resume", help="continue the last RL run in the work dir from its last "
               "checkpoint (same config; rl.iterations may grow)")] = False) -> None:
    """Train the Pong policy (PPO or REINFORCE, scratch or on a pretrained encoder)."""
    _run("rl", config_from_options(preset, config, set_, ray_address, work_dir, mlflow_uri,
                                   resume=resume))


@app.command()
def tune(preset: Preset = "laptop", config: ConfigFiles = None, set_: Sets = None,
         ray_address: RayAddress = None, work_dir: WorkDir = None,
         mlflow_uri: MlflowUri = None) -> None:
    """Ray Tune sweep over `tune.params` (e.g. --set 'tune.params={lr: [1e-4, 3e-4]}')."""
    _run("tune", config_from_options(preset, config, set_, ray_address, work_dir, mlflow_uri))


@app.command("config")
def show_config(preset: Preset = "laptop", config: ConfigFiles = None, set_: Sets = None,
                ray_address: RayAddress = None, work_dir: WorkDir = None,
                mlflow_uri: MlflowUri = None) -> None:
    """Validate and print the resolved config as YAML (no compute)."""
    cfg = config_from_options(preset, config, set_, ray_address, work_dir, mlflow_uri,
                              writable=False)
    typer.echo(to_yaml(cfg), nl=False)
    typer.echo(f"# config hash: {cfg.hash()}", err=True)


@app.command()
def ui(work_dir: WorkDir = None, mlflow_uri: MlflowUri = None,
       host: Annotated[str, typer.Option(help="bind address (loopback by default)")] = "127.0.0.1",
       port: Annotated[int, typer.Option(help="port")] = 5000) -> None:
    """Serve the MLflow UI over this work dir's results (binds 127.0.0.1 unless told)."""
    from pipelines.core.tracking import tracking_uri

    cfg = config_from_options("smoke", None, None, None, work_dir, mlflow_uri, writable=False)
    uri = tracking_uri(cfg)
    typer.echo(f"MLflow UI on http://{host}:{port} for {uri}  (Ctrl-C to stop)")
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
           "--host", host, "--port", str(port)]
    os.execv(sys.executable, cmd)


@app.command()
def serve(preset: Preset = "laptop", config: ConfigFiles = None, set_: Sets = None,
          ray_address: RayAddress = None, work_dir: WorkDir = None,
          mlflow_uri: MlflowUri = None) -> None:
    """Register the scheduled deployments of `schedule.deployments` and serve their runs."""
    # Before Prefect starts: a bad config or work dir fails in a second.
    cfg = config_from_options(preset, config, set_, ray_address, work_dir, mlflow_uri)
    from flows.serve import build_deployments, serve_deployments

    try:
        build_deployments(cfg)  # bad schedules fail here, before anything is registered
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    if not os.environ.get("PREFECT_API_URL"):
        typer.secho("warning: PREFECT_API_URL is unset: schedules live only as long as this "
                    "process's own Prefect server", fg=typer.colors.YELLOW, err=True)
    serve_deployments(cfg)


@app.command()
def status(work_dir: WorkDir = None, mlflow_uri: MlflowUri = None,
           as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
           = False,
           limit: Annotated[int, typer.Option("--limit", "-n", min=1,
                                              help="how many recent flow runs")] = 10) -> None:
    """Recent flow runs, newest first, stage by stage: state, duration, reused or ran, a key
    metric, the MLflow run id (reads the store; writes nothing)."""
    from pipelines.core.status import (
        StoreMissingError,
        StoreUnreadableError,
        format_table,
        read_status,
        sqlite_path,
        to_json,
    )

    # Not pipelines.core.tracking: it imports MLflow, which alone takes longer than status may.
    from pipelines.core.store_location import (
        TrackingUnavailableError,
        check_tracking_server,
        tracking_uri,
    )

    cfg = config_from_options("smoke", None, None, None, work_dir, mlflow_uri, writable=False)
    uri = tracking_uri(cfg)
    db = sqlite_path(uri)
    # Name the work dir when the store is its own SQLite file; else the store itself.
    home = cfg.runtime.work_dir.resolve()
    in_home = db is not None and db.parent == home
    where = str(home) if in_home else uri
    try:
        check_tracking_server(uri, cfg.runtime.connect_timeout_s)
        runs = read_status(uri, limit)
    except StoreMissingError as exc:
        raise fail(f"work dir {home} does not exist" if in_home
                    else f"MLflow store {uri}: {exc}", 1) from None
    except (TrackingUnavailableError, StoreUnreadableError) as exc:
        raise fail(str(exc), 1) from None
    if as_json:
        typer.echo(to_json(runs))
    else:
        typer.echo(format_table(runs), nl=False)
    if not runs:
        typer.echo(f"no flow runs recorded in {where}", err=as_json)


if __name__ == "__main__":
    app()
