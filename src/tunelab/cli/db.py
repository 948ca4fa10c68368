"""``tunelab db``: schema management."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--database-url", default=None)
def upgrade(data_dir: Path | None, database_url: str | None) -> None:
    """Apply pending schema migrations."""
    from tunelab.server.settings import ServerSettings
    from tunelab.store import migrations
    from tunelab.store.engine import create_engine

    settings = ServerSettings.from_env(data_dir=data_dir, database_url=database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(create_engine(settings.database_url))
    click.echo("database schema is up to date")
