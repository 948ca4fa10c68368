"""The database's disk refusing writes: a clear 503/507 in the error envelope, the server
stays up and serves what it stored, the SDK keeps its data and resends it once the disk
takes writes again.

Without root, a real server's writes are made to fail with RLIMIT_FSIZE lowered on its
process (``resource.prlimit``): SQLite then cannot append to its write-ahead log (Python
ignores SIGXFSZ, so the write fails with EFBIG instead of killing the server). Raising the
limit again is the disk getting space back."""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from tests.event_loop import run_coroutine
from tests.faults.agent import start_agent
from tests.faults.readback import stored_iterations
from tests.services import ServerProcess
from tests.waiting import wait_for
from tunelab.domain.scalar_wire import pack_floats, pack_ints
from tunelab.errors import DatabaseUnavailable, InsufficientStorage, ServerUnavailable, from_code
from tunelab.sdk.reporter import Reporter
from tunelab.sdk.transport import ApiClient
from tunelab.server import store_errors
from tunelab.server.app import create_app
from tunelab.server.settings import ServerSettings

# Below one WAL frame (a 32-byte header, then 24 + 4096 bytes per page): no write fits.
NO_ROOM = 4096


def _limit_file_size(pid: int, soft: int) -> None:
    hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)[1]
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))


def _empty_the_wal(db: Path) -> None:
    """Fold the write-ahead log into the database and truncate it, so the server's next
    write starts the log afresh at its first bytes (the server is idle)."""
    with sqlite3.connect(db) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    assert (db.parent / f"{db.name}-wal").stat().st_size == 0


def test_writes_fail_clearly_reads_go_on_and_writes_resume(
    server: ServerProcess,
    tmp_path: Path,
    agents: list[subprocess.Popen[bytes]],
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    soft_before = resource.prlimit(pid, resource.RLIMIT_FSIZE)[0]
    api = f"{server.url}/api/v1"
    with ApiClient(server.url, timeout=10, as_run=True) as client:
        project = f"faults/disk-{uuid.uuid4().hex[:8]}"
        task_id = client.create_task({"name": "run", "project": project, "status": "running"})["id"]
        spool = tmp_path / "spool.jsonl"
        reporter = Reporter(client, task_id, spool_path=spool, flush_interval=0.1)
        for i in range(20_000):
            reporter.add_scalar("loss", "train", i * 0.5, i)
        reporter.add_console("stdout", "before the disk filled")
        assert reporter.flush(timeout=30)
        client.update_task(task_id, comment="stored before")
        task_before = client.get_task(task_id)
        console_before = client.get_console(task_id)["lines"]

        agent = start_agent(server.url, tmp_path / "agent", tmp_path / "work", "faults-disk")
        agents.append(agent)
        wait_for(
            lambda: any(w["queues"] == ["faults-disk"] for w in client.list_workers()["items"])
        )
        _empty_the_wal(server.data_dir / "tunelab.db")
        _limit_file_size(pid, NO_ROOM)

        refused = httpx.post(f"{api}/tasks", json={"name": "new", "project": project})
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/json"
        assert refused.headers["retry-after"]
        error = refused.json()["error"]
        assert error["code"] == "database_unavailable"
        assert error["message"].startswith("the database could not write: a disk I/O error")
        # Rebuilt as a ServerUnavailable: what the SDK, the CLI and the agent retry.
        with pytest.raises(DatabaseUnavailable) as raised:
            client.update_task(task_id, comment="lost?")
        assert raised.value.status == 503 and "could not write" in raised.value.message
        # An idle agent's polls only read: it goes on polling, the full disk unseen.
        assert "could not write" not in (tmp_path / "agent" / "agent.log").read_text()

        # The SDK keeps what it could not send and retries; the program is not disturbed.
        for i in range(20_000, 30_000):
            reporter.add_scalar("loss", "train", i * 0.5, i)
        reporter.add_console("stdout", "while the disk was full")
        assert not reporter.flush(timeout=2)

        assert server.proc.poll() is None
        assert agent.poll() is None
        assert httpx.get(f"{api}/health").status_code == 200
        assert client.get_task(task_id) == task_before
        assert client.get_console(task_id)["lines"] == console_before
        assert stored_iterations(client, task_id) == {("loss", "train"): list(range(20_000))}
        assert client.list_tasks(project=project)["total"] == 1

        _limit_file_size(pid, soft_before)  # space is back
        assert reporter.flush(timeout=30)
        assert stored_iterations(client, task_id) == {("loss", "train"): list(range(30_000))}
        texts = [line["text"] for line in client.get_console(task_id)["lines"]]
        assert texts == ["before the disk filled", "while the disk was full"]
        client.update_task(task_id, comment="after")
        assert client.get_task(task_id)["comment"] == "after"
        assert httpx.post(f"{api}/tasks", json={"name": "new", "project": project}).is_success
        reporter.close()
        assert not spool.exists()
        agent.terminate()
        assert agent.wait(30) == 0
    err = capfd.readouterr().err
    assert "could not write" in err and "keeping data in" in err and "answers again" in err


def test_a_full_sqlite_database_answers_507(tmp_path: Path) -> None:
    """SQLite's own "database or disk is full" (here: PRAGMA max_page_count reached), through
    the app in this process."""
    app = create_app(ServerSettings.from_env(data_dir=tmp_path / "data"))
    engine: sa.Engine = app.state.engine
    points = {
        "metric": "loss",
        "variant": "train",
        "iterations": pack_ints(range(50_000)),
        "values": pack_floats([0.5] * 50_000),
        "timestamps": pack_floats([1.0] * 50_000),
    }

    async def scenario() -> tuple[httpx.Response, dict[str, Any], dict[str, Any]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as http:
            body = {"name": "a", "project": "p", "status": "running"}
            task_id = (await http.post("/tasks", json=body)).json()["id"]

            @sa.event.listens_for(engine, "connect")
            def _no_more_pages(dbapi_conn: sqlite3.Connection, _record: object) -> None:
                pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
                dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

            engine.dispose()  # from now on every connection is capped at the file's size
            batch = {"batch_id": uuid.uuid4().hex, "series": [points]}
            refused = await http.post(f"/tasks/{task_id}/scalars", json=batch)
            task = (await http.get(f"/tasks/{task_id}")).json()
            metrics = (await http.get(f"/tasks/{task_id}/metrics")).json()
            return refused, task, metrics

    refused, task, metrics = run_coroutine(scenario())
    engine.dispose()
    assert refused.status_code == 507, refused.text
    error = refused.json()["error"]
    assert error["code"] == "insufficient_storage"
    assert error["message"].startswith("the database could not write: its disk is full")
    assert "database or disk is full" in error["detail"]["database_error"]
    rebuilt = from_code(error["code"], error["message"])  # what the SDK raises
    assert isinstance(rebuilt, InsufficientStorage) and isinstance(rebuilt, ServerUnavailable)
    assert task["status"] == "running"
    assert metrics["metrics"] == {}


def _wrapped(orig: Exception) -> sa.exc.DBAPIError:
    base = sqlite3.Error if isinstance(orig, sqlite3.Error) else psycopg.Error
    wrapped = sa.exc.DBAPIError.instance("INSERT ...", {}, orig, base)
    assert isinstance(wrapped, sa.exc.DBAPIError)
    return wrapped


def _sqlite_error(*statements: str) -> sqlite3.Error:
    """The error SQLite itself raises for the last statement."""
    conn = sqlite3.connect(":memory:")
    try:
        for statement in statements:
            conn.execute(statement)
    except sqlite3.Error as exc:
        return exc
    finally:
        conn.close()
    raise AssertionError("no error")


@pytest.mark.parametrize(
    ("orig", "status", "code"),
    [
        (psycopg.errors.DiskFull("could not extend file"), 507, "insufficient_storage"),
        (psycopg.errors.IoError("could not write block"), 503, "database_unavailable"),
        (psycopg.errors.OutOfMemory("out of memory"), 503, "database_unavailable"),
        (psycopg.errors.AdminShutdown("terminating connection"), 503, "database_unavailable"),
        (psycopg.errors.ReadOnlySqlTransaction("read-only"), 503, "database_unavailable"),
    ],
)
def test_postgresql_failures_map_by_sqlstate(orig: Exception, status: int, code: str) -> None:
    failure = store_errors.classify(_wrapped(orig))
    assert failure is not None and (failure.status, failure.code) == (status, code)


def test_other_database_errors_are_not_disguised() -> None:
    duplicate = _sqlite_error(
        "CREATE TABLE t (x UNIQUE)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)"
    )
    assert isinstance(duplicate, sqlite3.IntegrityError)
    assert store_errors.classify(_wrapped(duplicate)) is None
    assert store_errors.classify(_wrapped(_sqlite_error("SELECT nothing FROM nowhere"))) is None
    assert store_errors.classify(_wrapped(psycopg.errors.UniqueViolation("duplicate"))) is None
    assert store_errors.classify(ValueError("not a database error")) is None
