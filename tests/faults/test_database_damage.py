"""Damage to the embedded database is never silent: a server killed mid-write whose WAL is
then cut short refuses to start, naming the file and how to recover; a damaged page fails the
start too; ``tunelab db backup`` copies a running server's database into a file that opens
and holds the data."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.scripts import unique
from tests.services import ServerProcess
from tunelab.errors import TunelabError
from tunelab.sdk.transport import ApiClient

START_TIMEOUT = 120
FRAME = 24 + 4096  # a WAL frame: its header and one 4 KiB page


def _tunelab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _write_until_stopped(url: str, project: str, stop: threading.Event) -> None:
    with ApiClient(url, timeout=5) as client:
        n = 0
        while not stop.is_set():
            try:
                client.create_task({"name": f"t{n}", "project": project, "comment": "x" * 2000})
            except TunelabError:
                return  # the server is gone
            n += 1


def test_a_killed_servers_wal_cut_short_refuses_the_start_with_the_way_to_recover(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data)
    server.start(timeout=START_TIMEOUT)
    project = unique("faults/wal")
    stop = threading.Event()
    writer = threading.Thread(target=_write_until_stopped, args=(server.url, project, stop))
    try:
        with ApiClient(server.url, timeout=30) as client:
            for n in range(40):  # committed before the kill: they live in the WAL
                client.create_task({"name": f"c{n}", "project": project})
        writer.start()
        threading.Event().wait(0.5)
        server.stop(kill=True)  # SIGKILL while the writer writes
    finally:
        stop.set()
        writer.join(timeout=30)
    wal = data / "tunelab.db-wal"
    size = wal.stat().st_size
    assert size > 32 + 20 * FRAME, f"the WAL holds too little to cut: {size} bytes"
    # Cut short as a copy interrupted early would leave it, mid-frame. (Not at a fixed
    # fraction: SQLite reuses the log from its start after a checkpoint, so the frames
    # committed last may sit anywhere before stale ones.)
    cut = 32 + FRAME + 1000
    os.truncate(wal, cut)

    try:
        with pytest.raises(RuntimeError) as refused:
            server.start(timeout=START_TIMEOUT)
    finally:
        server.stop()  # started after all: not left behind
    message = str(refused.value)
    assert "server exited" in message
    assert f"the database {data / 'tunelab.db'} is damaged" in message
    assert str(wal) in message
    assert "tunelab db backup" in message and "wal_checkpoint" in message
    assert "Traceback" not in message  # one sentence, not a crash
    # The damaged files are left as they were, for the recovery.
    assert wal.stat().st_size == cut


def test_a_damaged_page_fails_the_start_with_quick_checks_finding(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data)
    server.start(timeout=START_TIMEOUT)
    try:
        with ApiClient(server.url, timeout=30) as client:
            project = unique("faults/page")
            for n in range(200):
                client.create_task({"name": f"t{n}", "project": project, "comment": "y" * 500})
    finally:
        server.stop()  # cleanly: the WAL is checkpointed into the file
    db = data / "tunelab.db"
    with sqlite3.connect(db) as conn:  # everything into the file itself, the WAL emptied
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert Path(f"{db}-wal").stat().st_size == 0
    pages = db.stat().st_size // 4096
    with db.open("r+b") as handle:  # garbage over a page in the middle of the tasks
        handle.seek(pages // 2 * 4096)
        handle.write(b"\xa5" * 4096)

    try:
        with pytest.raises(RuntimeError) as refused:
            server.start(timeout=START_TIMEOUT)
    finally:
        server.stop()
    message = str(refused.value)
    assert f"the database {db} is damaged: PRAGMA quick_check found" in message
    assert "tunelab db backup" in message


def test_db_backup_copies_a_running_servers_database_into_a_file_that_opens(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data)
    server.start(timeout=START_TIMEOUT)
    project = unique("faults/backup")
    try:
        with ApiClient(server.url, timeout=30) as client:
            task = client.create_task({"name": "kept", "project": project, "status": "running"})
            client.post_scalars(
                task["id"],
                {
                    "batch_id": "b1",
                    "series": [
                        {
                            "metric": "loss",
                            "variant": "train",
                            "iterations": list(range(1000)),
                            "values": [i / 1000 for i in range(1000)],
                            "timestamps": [1.7e9 + i for i in range(1000)],
                        }
                    ],
                },
            )
        # While the server runs (and holds the database open), into a folder.
        (tmp_path / "backups").mkdir()
        done = _tunelab("db", "backup", str(tmp_path / "backups"), "--data-dir", str(data))
        assert done.returncode == 0, done.stderr
        copy = tmp_path / "backups" / "tunelab.db"
        assert str(copy) in done.stdout
    finally:
        server.stop()
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    # A server on the copy serves the data.
    restored = tmp_path / "restored"
    restored.mkdir()
    copy.rename(restored / "tunelab.db")
    second = ServerProcess(restored)
    second.start(timeout=START_TIMEOUT)
    try:
        with ApiClient(second.url, timeout=30) as client:
            assert client.get_task(task["id"])["name"] == "kept"
            summary = client.get_metrics(task["id"])["metrics"]["loss"]["train"]
            assert summary["count"] == 1000
    finally:
        second.stop()


def test_db_backup_of_postgresql_says_to_use_pg_dump(tmp_path: Path) -> None:
    done = _tunelab(
        "db", "backup", str(tmp_path / "x.db"), "--database-url", "postgresql://u:p@h:5432/db"
    )
    assert done.returncode == 2
    assert "pg_dump" in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_db_backup_never_writes_over_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    """A mistyped destination must not cost the file it names, and one that cannot be
    written is one line, not a traceback."""
    data = tmp_path / "data"
    made = _tunelab("db", "upgrade", "--data-dir", str(data))
    assert made.returncode == 0, made.stderr

    def backup(destination: str) -> subprocess.CompletedProcess[str]:
        return _tunelab("db", "backup", destination, "--data-dir", str(data))

    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    refused = backup(str(notes))
    assert refused.returncode == 2, refused.stderr
    assert "is not a SQLite database" in refused.stderr and "Traceback" not in refused.stderr
    assert notes.read_text() == "my notes\n"

    # An older backup (a database) is replaced: a nightly job may reuse one name.
    nightly = tmp_path / "nightly.db"
    assert backup(str(nightly)).returncode == 0
    assert backup(str(nightly)).returncode == 0
    # So is an empty file (mktemp's).
    empty = tmp_path / "empty.db"
    empty.touch()
    assert backup(str(empty)).returncode == 0 and empty.stat().st_size > 0

    # A name ending in a separator is a folder, made if need be.
    assert backup(f"{tmp_path}/later/").returncode == 0
    assert (tmp_path / "later" / "tunelab.db").is_file()

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder would go")
    for destination in (str(blocked / "x.db"), ""):
        failed = backup(destination)
        assert failed.returncode == 2, failed.stderr
        assert failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr
