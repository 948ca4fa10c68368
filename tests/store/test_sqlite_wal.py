"""Telling a damaged SQLite write-ahead log from a clean one, on logs SQLite itself wrote:
whole, cut at a frame boundary, cut mid-frame, a flipped byte, and a writer caught in the
middle of a transaction (not damage)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunelab.store.sqlite_wal import check_wal

FRAME = 24 + 4096
ROWS = 200


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, Path]]:
    """A WAL database with ROWS committed rows, held open (no checkpoint), as a server killed
    with SIGKILL leaves it."""
    db = tmp_path / "live.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (x BLOB)")
    for _ in range(ROWS):
        conn.execute("INSERT INTO t VALUES (?)", (os.urandom(3000),))
    yield conn, db
    conn.close()


def _snapshot(db: Path, folder: Path) -> tuple[Path, Path, Path]:
    """Copies of the database, its log and its wal-index, as they are on disk now."""
    folder.mkdir()
    copies = []
    for suffix in ("", "-wal", "-shm"):
        target = folder / f"copy.db{suffix}"
        shutil.copyfile(f"{db}{suffix}", target)
        copies.append(target)
    return copies[0], copies[1], copies[2]


def _rows(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        count: int = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    return count


def test_a_whole_log_is_clean(live: tuple[sqlite3.Connection, Path], tmp_path: Path) -> None:
    _, db = live
    copy, wal, shm = _snapshot(db, tmp_path / "s")
    report = check_wal(wal, shm)
    assert report.damage is None
    assert report.frames == report.committed == (wal.stat().st_size - 32) // FRAME
    assert check_wal(wal).damage is None  # without its wal-index too
    assert _rows(copy) == ROWS


def test_a_log_cut_at_a_frame_boundary_is_damage_the_wal_index_reveals(
    live: tuple[sqlite3.Connection, Path], tmp_path: Path
) -> None:
    _, db = live
    copy, wal, shm = _snapshot(db, tmp_path / "s")
    os.truncate(wal, wal.stat().st_size - 10 * FRAME)
    report = check_wal(wal, shm)
    assert report.damage is not None and "committed" in report.damage
    assert _rows(copy) < ROWS  # what SQLite would silently do with it


def test_a_log_cut_mid_frame_is_damage_with_or_without_its_wal_index(
    live: tuple[sqlite3.Connection, Path], tmp_path: Path
) -> None:
    _, db = live
    _, wal, shm = _snapshot(db, tmp_path / "s")
    os.truncate(wal, wal.stat().st_size - 1000)
    assert check_wal(wal, shm).damage is not None
    shm.unlink()
    damage = check_wal(wal).damage
    assert damage is not None and "cut frame" in damage


def test_a_flipped_byte_breaks_the_checksum_chain(
    live: tuple[sqlite3.Connection, Path], tmp_path: Path
) -> None:
    _, db = live
    _, wal, shm = _snapshot(db, tmp_path / "s")
    with wal.open("r+b") as handle:
        handle.seek(32 + 5 * FRAME + 24 + 100)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 1]))
    assert check_wal(wal, shm).damage is not None
    shm.unlink()
    damage = check_wal(wal).damage
    assert damage is not None and "checksum" in damage


def test_a_writer_killed_mid_transaction_is_not_damage(
    live: tuple[sqlite3.Connection, Path], tmp_path: Path
) -> None:
    conn, db = live
    conn.execute("PRAGMA cache_size=5")  # the open transaction spills its pages to the log
    conn.execute("BEGIN")
    for _ in range(50):
        conn.execute("INSERT INTO t VALUES (?)", (os.urandom(3000),))
    copy, wal, shm = _snapshot(db, tmp_path / "s")
    conn.execute("ROLLBACK")
    report = check_wal(wal, shm)
    assert report.frames > report.committed  # frames past the last commit...
    assert report.damage is None  # ...are an unfinished transaction, not damage
    assert _rows(copy) == ROWS


def test_a_header_that_is_not_a_wal_header_is_damage(tmp_path: Path) -> None:
    wal = tmp_path / "x.db-wal"
    wal.write_bytes(b"\0" * 100)
    assert check_wal(wal).damage == "its header is not a SQLite WAL header"
    wal.write_bytes(b"\0" * 10)
    assert "shorter than its 32-byte header" in (check_wal(wal).damage or "")
    wal.write_bytes(b"")
    assert check_wal(wal).damage is None
