"""``tunelab import …``: bring runs from TensorBoard, MLflow, ClearML offline sessions, W&B
offline runs or a Neptune export.

Each run becomes one task; importing again adds only runs not imported yet, and an import
that was stopped resumes where it stopped (a half-written run is written again).

Example::

    tunelab import tensorboard runs/ --project vision
    tunelab import mlflow --tracking-uri sqlite:///mlflow.db --experiment baseline
    tunelab import clearml ~/.clearml/cache/offline/offline-1a2b.zip
    tunelab import wandb wandb/
    tunelab import neptune exports/data
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tunelab.cli.connection import api_client

if TYPE_CHECKING:
    from tunelab.importers.progress import Summary


@click.group("import")
def import_() -> None:
    """Import runs recorded by another tool, one task per run."""


@import_.command("tensorboard")
@click.argument("logdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--project", default="TensorBoard", show_default=True, help="project of the tasks")
def tensorboard(logdir: Path, project: str) -> None:
    """Each run folder of LOGDIR (a folder holding event files) as a task: scalars,
    histograms, images, text and hparams."""
    from tunelab.importers.progress import BarProgress
    from tunelab.importers.tensorboard import import_logdir

    with api_client() as client:
        summary = import_logdir(client, logdir, project, progress=BarProgress("TensorBoard"))
    _report(summary)


@import_.command("mlflow")
@click.option("--tracking-uri", required=True, help="file:..., sqlite:///..., http(s)://...")
@click.option(
    "--experiment", "experiments", multiple=True, help="an experiment's name (repeat); all if none"
)
def mlflow(tracking_uri: str, experiments: tuple[str, ...]) -> None:
    """MLflow experiments as projects, their runs as tasks (params, tags, every metric's
    history, artifacts), registered models as models."""
    from tunelab.importers.mlflow import import_tracking
    from tunelab.importers.progress import BarProgress

    with api_client() as client:
        summary = import_tracking(
            client, tracking_uri, list(experiments), progress=BarProgress("MLflow")
        )
    _report(summary)


@import_.command("clearml")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def clearml(path: Path) -> None:
    """ClearML offline sessions: a session folder or zip, or a folder holding them
    (ClearML's cache/offline)."""
    from tunelab.importers.clearml import import_sessions
    from tunelab.importers.progress import BarProgress

    with api_client() as client:
        summary = import_sessions(client, path, progress=BarProgress("ClearML"))
    _report(summary)


@import_.command("wandb")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def wandb(path: Path) -> None:
    """W&B offline runs: a run folder (wandb/offline-run-...), or a folder holding them
    (wandb/): config, history, summary, tags, notes and files."""
    from tunelab.importers.progress import BarProgress
    from tunelab.importers.wandb import import_offline_runs

    with api_client() as client:
        summary = import_offline_runs(client, path, progress=BarProgress("W&B"))
    _report(summary)


@import_.command("neptune")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--files-path",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="the exporter's files folder  [default: files beside PATH]",
)
def neptune(path: Path, files_path: Path | None) -> None:
    """Runs exported from neptune.ai by neptune-exporter: PATH is its data folder (Parquet
    files per project) or one project folder of it."""
    from tunelab.importers.neptune import import_export
    from tunelab.importers.progress import BarProgress

    with api_client() as client:
        summary = import_export(client, path, files_path, progress=BarProgress("Neptune"))
    _report(summary)


def _report(summary: Summary) -> None:
    click.echo(summary.text())
    if summary.failed:
        raise SystemExit(1)
