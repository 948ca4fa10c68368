"""``tunelab db``: schema management and backups."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.group()
def db() -> None:
    """Database schema and backup commands."""


@db.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--database-url", default=None)
def upgrade(data_dir: Path | None, database_url: str | None) -> None:
    """Apply pending schema migrations."""
    from tunelab.cli.store_opening import opening_store
    from tunelab.server.settings import ServerSettings
    from tunelab.store import migrations
    from tunelab.store.engine import create_engine

    settings = ServerSettings.from_env(data_dir=data_dir, database_url=database_url)
    with opening_store(settings.database_url):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrations.upgrade(create_engine(settings.database_url))
    click.echo("database schema is up to date")


@db.command()
@click.argument("destination", type=click.Path())
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--database-url", default=None)
def backup(destination: str, data_dir: Path | None, database_url: str | None) -> None:
    """Copy the embedded SQLite database to DESTINATION (a file, or a folder to put it in;
    a name ending in / is a folder, made if need be). An existing file is written over only
    when it is an older backup.

    Safe while the server runs: SQLite's online backup copies a consistent state, and the
    copy is checked before it takes the name. For PostgreSQL use pg_dump.

    Example: tunelab db backup /backups/tunelab-$(date +%F).db
    """
    from tunelab.errors import InvalidInput
    from tunelab.server.settings import ServerSettings
    from tunelab.store.integrity import backup_database

    if not destination:
        raise InvalidInput("DESTINATION is empty: name a file or a folder")
    settings = ServerSettings.from_env(data_dir=data_dir, database_url=database_url)
    folder = destination.endswith(("/", os.sep))
    copy, seconds = backup_database(settings.database_url, Path(destination), folder=folder)
    click.echo(f"backed up {settings.database_url} to {copy} in {seconds:.1f} s")
