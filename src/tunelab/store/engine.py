"""Opening the database: the one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tunelab.errors import ConfigError

# Seconds a pooled PostgreSQL connection is used before it is replaced.
RECYCLE_SECONDS = 1800
# The execution option of a connection that only reads (``read_only``).
_READ_ONLY = "tunelab_read_only"


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'tunelab.db'}"


def parsed_url(url: str) -> sa.engine.URL:
    """``url`` read as a database URL; ConfigError when it cannot be."""
    try:
        return sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc


def create_engine(url: str) -> Engine:
    """An engine for ``url`` with Tunelab's settings for its dialect."""
    parsed = parsed_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # No pool_pre_ping: it costs a round trip (and a transaction in the database's
        # statistics) on every checkout. A connection the database dropped fails the one
        # request using it (a 503 the clients retry, ``server.store_errors``), and that
        # error makes SQLAlchemy replace every pooled connection older than it; connections
        # are renewed after RECYCLE_SECONDS anyway, before any idle timeout a proxy or
        # firewall in between may have.
        return sa.create_engine(parsed, pool_size=10, max_overflow=20, pool_recycle=RECYCLE_SECONDS)
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
        # A transaction that will only read (``read_only``) takes no lock from writers.
        read = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    return engine


@contextlib.contextmanager
def read_only(engine: Engine) -> Iterator[sa.Connection]:
    """A connection for reads only: its transaction is rolled back, never committed (no
    commit to count, nothing to flush), and on SQLite it does not take the write lock. A
    write made through it would be lost: writes go through ``engine.begin()``.

    >>> with read_only(engine) as conn:  # doctest: +SKIP
    ...     conn.execute(sa.select(workers.c.queues)).all()
    """
    with engine.connect() as conn:
        conn.execution_options(**{_READ_ONLY: True})
        try:
            yield conn
        finally:
            conn.rollback()


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
