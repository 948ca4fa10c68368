"""``tunelab sync FOLDER``: upload an offline session."""

from __future__ import annotations

import click


@click.command()
@click.argument("folder")
def sync(folder: str) -> None:
    """Upload the offline session recorded in FOLDER as one task."""
    raise click.ClickException("not available yet")
