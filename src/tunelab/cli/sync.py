"""``tunelab sync FOLDER``: upload an offline session (or a spool file) as one task.

Example::

    TUNELAB_OFFLINE=1 python train.py      # records into ~/.tunelab/offline/<session>
    tunelab sync ~/.tunelab/offline/<session>
"""

from __future__ import annotations

from pathlib import Path

import click

from tunelab.cli.connection import api_client


@click.command()
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
def sync(folder: Path) -> None:
    """Upload the session recorded in FOLDER; safe to run again after a failure."""
    from tunelab.sdk.offline import sync_session

    task_id = sync_session(folder, api_client())
    click.echo(f"uploaded {folder} as task {task_id}")
