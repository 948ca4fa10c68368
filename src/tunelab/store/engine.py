"""Opening the database: the one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tunelab.errors import ConfigError


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'tunelab.db'}"


def create_engine(url: str) -> Engine:
    """An engine for ``url`` with Tunelab's settings for its dialect."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise ConfigError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///PATH "
        "or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB"
    )


def _sqlite_engine(url: str) -> Engine:
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take control of transactions ourselves (pysqlite's own BEGIN handling is
        # broken for SAVEPOINT and defers locks); see SQLAlchemy's SQLite notes.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # IMMEDIATE takes the write lock at the start, so two writers queue on the busy
        # timeout instead of failing with "database is locked" on upgrade from a read lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def refresh_statistics(engine: Engine) -> None:
    """Let SQLite's planner know table sizes (PostgreSQL's autovacuum does this itself).

    Without statistics SQLite may pick a full scan over an index for a sorted page of a
    large project; ``PRAGMA optimize`` analyzes only the tables that need it.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA optimize=0x10002")


def is_sqlite(conn: sa.Connection | Engine) -> bool:
    return conn.dialect.name == "sqlite"
