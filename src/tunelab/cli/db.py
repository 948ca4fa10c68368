"""``tunelab db``: schema management and backups."""

from __future__ import annotations

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
@click.argument("destination", type=click.Path(path_type=Path))
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--database-url", default=None)
def backup(destination: Path, data_dir: Path | None, database_url: str | None) -> None:
    """Copy the embedded SQLite database to DESTINATION (a file, or a folder to put it in).

    Safe while the server runs: SQLite's online backup copies a consistent state, and the
    copy is checked before it takes the name. For PostgreSQL use pg_dump.

    Example: tunelab db backup /backups/tunelab-$(date +%F).db
    """
    from tunelab.server.settings import ServerSettings
    from tunelab.store.integrity import backup_database

    settings = ServerSettings.from_env(data_dir=data_dir, database_url=database_url)
    copy, seconds = backup_database(settings.database_url, destination)
    click.echo(f"backed up {settings.database_url} to {copy} in {seconds:.1f} s")
