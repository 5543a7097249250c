"""`arcadelab label export|import`: a person labels the frames an active-learning loop queried.

    arcadelab label export --strategy margin --out to-label/     # PNGs + labels.csv
    # ... fill in labels.csv ...
    arcadelab label import to-label/labels.csv --strategy margin
    arcadelab run active --set active.oracle=human ...   # trains on them, queries on

Both take the same --preset/--config/--set as the run that made the loop, which is how they
find its state (the loop key). Bad input: one message naming every bad row, exit code 2,
nothing imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli_config import config_from_options, fail

if TYPE_CHECKING:
    from pipelines.active.label_io import LoopLocation
    from pipelines.core.config import ArcadeConfig

label_app = typer.Typer(
    name="label", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Human in the loop: export queried frames to label, import the labels back.")

Preset = Annotated[str, typer.Option("--preset", "-p", help="config preset of the loop's run")]
ConfigFiles = Annotated[list[Path] | None, typer.Option(
    "--config", "-c", help="YAML file(s) overriding the preset, applied in order")]
Sets = Annotated[list[str] | None, typer.Option(
    "--set", "-s", help="the same --set overrides as the loop's run (repeatable)")]
WorkDir = Annotated[Path | None, typer.Option("--work-dir", help="the loop's work dir")]
MlflowUri = Annotated[str | None, typer.Option(
    "--mlflow-uri", help="MLflow tracking URI (where the encoder registry lives)")]
Strategy = Annotated[str | None, typer.Option(
    "--strategy", help="the loop to label (default: the config's only strategy)")]


def _locate(preset: str, config: list[Path] | None, set_: list[str] | None,
            work_dir: Path | None, mlflow_uri: str | None, strategy: str | None
            ) -> tuple[ArcadeConfig, LoopLocation]:
    from pipelines.active.label_io import locate_loop
    from pipelines.active.state import StateError
    from pipelines.core import tracking
    from pipelines.data.dataset import DatasetError

    cfg = config_from_options(preset, config, set_, None, work_dir, mlflow_uri)
    if strategy is None:
        if len(cfg.active.strategies) != 1:
            raise fail(f"--strategy: choose one of {', '.join(cfg.active.strategies)}", 2)
        strategy = cfg.active.strategies[0]
    tracking.setup(cfg)  # the registry says which encoder (and so which loop key) is meant
    try:
        return cfg, locate_loop(cfg, strategy)
    except (LookupError, DatasetError, StateError) as exc:
        raise fail(str(exc), 1) from None


@label_app.command("export")
def export(out: Annotated[Path, typer.Option("--out", "-o", help="folder to write")],
           preset: Preset = "laptop", config: ConfigFiles = None, set_: Sets = None,
           work_dir: WorkDir = None, mlflow_uri: MlflowUri = None,
           strategy: Strategy = None,
           force: Annotated[bool, typer.Option(help="overwrite an existing labels.csv")] = False
           ) -> None:
    """Write the loop's pending frames as PNGs plus labels.csv (one empty column per label)."""
    from pipelines.active.label_io import export_queries

    _, loc = _locate(preset, config, set_, work_dir, mlflow_uri, strategy)
    try:
        path = export_queries(loc, out, force)
    except (LookupError, FileExistsError) as exc:
        raise fail(str(exc), 1) from None
    typer.echo(f"{len(loc.state.pending)} frames to label: fill in {path}, then "
               f"`arcadelab label import {path}` with the same options")


@label_app.command("import")
def import_(csv: Annotated[Path, typer.Argument(help="the filled-in labels.csv")],
            preset: Preset = "laptop", config: ConfigFiles = None, set_: Sets = None,
            work_dir: WorkDir = None, mlflow_uri: MlflowUri = None,
            strategy: Strategy = None) -> None:
    """Validate every row, then add all the labels to the loop at once (or none of them)."""
    from pipelines.active.label_io import LabelImportError, import_labels

    _, loc = _locate(preset, config, set_, work_dir, mlflow_uri, strategy)
    try:
        state, n, skipped = import_labels(loc, csv)
    except LabelImportError as exc:
        raise fail(str(exc), 2) from None
    typer.echo(f"imported {n} labels into the {state.strategy} loop ({len(state.labelled)} "
               f"labelled, {len(state.pending)} still pending, {skipped} blank rows skipped); "
               "run the active flow again to train on them")
