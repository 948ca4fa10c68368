"""Damage to the database is never silent: the checks the server runs before it serves, and
backups of the embedded database.

SQLite only (PostgreSQL checks its own files, and is backed up with ``pg_dump``). Before
anything opens the file: its write-ahead log must be one SQLite reads whole
(``store.sqlite_wal``), then ``PRAGMA quick_check`` must answer ``ok``. A failure is a
``DatabaseUnavailable`` naming the file and the way to recover, and the server does not start.

Example::

    check_database("sqlite:////srv/tunelab/tunelab.db")       # raises if damaged
    backup_database("sqlite:////srv/tunelab/tunelab.db", Path("/backups/tunelab.db"))
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

from tunelab.errors import DatabaseUnavailable, InvalidInput
from tunelab.store.engine import parsed_url
from tunelab.store.sqlite_wal import check_wal

# quick_check stops after this many problems; the message shows the first few.
_PROBLEMS_SHOWN = 5
# The first bytes of every SQLite database file.
_SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    parsed = parsed_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def check_database(url: str) -> None:
    """Refuse a damaged SQLite database (a missing one is new, and fine)."""
    path = sqlite_path(url)
    if path is None or not path.exists():
        return
    wal = Path(f"{path}-wal")
    shm = Path(f"{path}-shm")
    if wal.exists():
        report = check_wal(wal, shm)
        if report.damage is not None:
            raise DatabaseUnavailable(
                f"the database {path} is damaged: its write-ahead log {wal} is not whole "
                f"({report.damage}). Opening it would silently drop transactions it holds, so "
                f"the server does not start. To recover: stop everything that uses it and copy "
                f"{path.name}, {wal.name} and {shm.name} aside; if the log was cut short by a "
                "copy or a restore, copy the three files again from their source; else "
                "restore the latest `tunelab db backup` copy, or keep what the log holds up to "
                f'the damage with `sqlite3 {path} "PRAGMA wal_checkpoint(TRUNCATE)"`. '
                "Then start the server again.",
                {"path": str(path), "wal": str(wal)},
            )
    problems = quick_check(path)
    if problems:
        shown = "; ".join(problems[:_PROBLEMS_SHOWN])
        raise DatabaseUnavailable(
            f"the database {path} is damaged: PRAGMA quick_check found {shown}. The server "
            "does not start on it. To recover: stop everything that uses it, copy it (with "
            "its -wal and -shm files) aside, and restore the latest `tunelab db backup` copy, "
            f"or salvage what is readable with `sqlite3 {path} .recover | sqlite3 NEW.db` and "
            "start the server on NEW.db.",
            {"path": str(path), "problems": problems},
        )


def quick_check(path: Path) -> list[str]:
    """``PRAGMA quick_check``'s findings; empty when the database is sound."""
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
            rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:  # "file is not a database", "disk image is malformed"
        return [str(exc)]
    found = [str(row[0]) for row in rows]
    return [] if found == ["ok"] else found


def backup_database(url: str, destination: Path, *, folder: bool = False) -> tuple[Path, float]:
    """Copy the SQLite database of ``url`` to ``destination`` with SQLite's online backup
    (consistent while the server runs and writes); answers the copy's path and the seconds
    it took. ``folder``: ``destination`` is a folder (made if need be) even if not there yet.

    The copy is written beside ``destination`` and renamed into place once it passes
    ``quick_check``, so a failed backup never leaves a half file under that name.
    """
    path = sqlite_path(url)
    if path is None:
        raise InvalidInput(
            "tunelab db backup copies the embedded SQLite database; for PostgreSQL use "
            "pg_dump, e.g. `pg_dump --format=custom --file tunelab.dump DATABASE_URL`"
        )
    if not path.exists():
        raise InvalidInput(f"no database at {path}")
    destination = _backup_file(destination.expanduser(), path, folder)
    partial = destination.with_name(destination.name + ".partial")
    began = time.monotonic()
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        with (
            contextlib.closing(sqlite3.connect(path, timeout=30)) as source,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            # Pages in steps, so a running server's writers wait at most one step.
            source.backup(copy, pages=4096)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        problems = quick_check(partial)
        if problems:
            raise DatabaseUnavailable(
                f"the backup of {path} fails quick_check ({'; '.join(problems[:5])}); "
                f"{destination} was not written"
            )
        os.replace(partial, destination)
    except (OSError, sqlite3.OperationalError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(f"cannot write the backup to {destination}: {reason}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return destination, time.monotonic() - began


def _backup_file(destination: Path, database: Path, folder: bool) -> Path:
    """The file a backup of ``database`` goes to: ``destination``, or the database's name
    in it when it is a folder. Never the database itself, and never a file that is something
    else: only an older backup (a SQLite file) or an empty file is written over."""
    if folder or destination.is_dir():
        destination = destination / database.name
    if destination.resolve() == database.resolve():
        raise InvalidInput(f"the backup must go elsewhere than the database itself ({database})")
    if destination.exists() or destination.is_symlink():
        if not destination.is_file():
            raise InvalidInput(f"{destination} is not a file: choose another name")
        with destination.open("rb") as handle:
            head = handle.read(len(_SQLITE_HEADER))
        if head and head != _SQLITE_HEADER:
            raise InvalidInput(
                f"{destination} exists and is not a SQLite database: choose another name, "
                "or remove it first"
            )
    return destination
