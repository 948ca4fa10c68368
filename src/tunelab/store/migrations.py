"""Applying the Alembic migrations that ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from tunelab.store.migration_lock import WAIT_SECONDS, upgrade_lock

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head", *, wait: float = WAIT_SECONDS) -> None:
    """Bring the schema to ``revision`` (the newest by default).

    Safe when several processes do it at once (server replicas starting together): one
    upgrades, the others wait for it (up to ``wait`` seconds, ``store.migration_lock``) and
    then find nothing left to do."""
    with upgrade_lock(engine, wait):
        command.upgrade(alembic_config(engine), revision)
