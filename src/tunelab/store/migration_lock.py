"""One schema upgrade at a time, however many server processes start on a database.

Replicas of a team server often start at the same moment (a deployment rolls them all out).
Without a lock two of them would run the same migration, and the loser would stop on a
duplicate ``alembic_version`` row or table. The lock is held for the whole upgrade:

- PostgreSQL: an advisory lock (per database) held on a connection of its own, outside the
  transactions the migrations run in, and released whatever happens to them;
- SQLite: an exclusive ``flock`` on a file beside the database (never on the database file
  itself: closing another descriptor of that file would drop SQLite's own locks).

A process that finds the lock taken says so once and waits, up to ``wait`` seconds; when it
gets the lock the schema is usually up to date already and its upgrade does nothing.

Example::

    with upgrade_lock(engine):
        command.upgrade(config, "head")
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tunelab.errors import DatabaseUnavailable

log = logging.getLogger("tunelab.store.migrations")

WAITING = "waiting for another server to upgrade the database"
# Long: a migration that rewrites a large table may take minutes, and a replica that gives
# up too soon would fail a deployment that was going well.
WAIT_SECONDS = 600.0
POLL_SECONDS = 0.1
# pg_advisory_lock's key: any constant bigint, the same in every Tunelab release.
ADVISORY_KEY = 0x74756E656C6162  # "tunelab" in ASCII


@contextlib.contextmanager
def upgrade_lock(engine: Engine, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the database's upgrade lock for the ``with`` block; DatabaseUnavailable when
    another process holds it for longer than ``wait`` seconds."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, wait):
            yield
        return
    lock_file = _sqlite_lock_file(engine)
    if lock_file is None:  # an in-memory database: no other process can see it
        yield
        return
    with _file_lock(lock_file, wait):
        yield


@contextlib.contextmanager
def _advisory_lock(engine: Engine, wait: float) -> Iterator[None]:
    # Autocommit: the lock belongs to the session, and no transaction is left open beside it.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:

        def take() -> bool:
            taken = conn.execute(sa.select(sa.func.pg_try_advisory_lock(ADVISORY_KEY))).scalar()
            return bool(taken)

        _wait_for(take, wait)
        try:
            yield
        finally:
            conn.execute(sa.select(sa.func.pg_advisory_unlock(ADVISORY_KEY)))


def _sqlite_lock_file(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    return path.with_name(f"{path.name}.upgrade-lock")


@contextlib.contextmanager
def _file_lock(path: Path, wait: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:

        def take() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _wait_for(take, wait)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_for(take: Callable[[], bool], wait: float) -> None:
    if take():
        return
    log.warning(WAITING)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        if take():
            return
    raise DatabaseUnavailable(
        f"another server has been upgrading the database for over {wait:.0f} s: "
        "see that server's log, then start this one again"
    )
