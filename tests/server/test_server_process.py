"""``tunelab server`` and ``tunelab db upgrade`` as users run them, on SQLite and PostgreSQL."""

from __future__ import annotations

import http.client
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tests.services import ServerProcess
from tunelab.sdk.transport import ApiClient


def test_db_upgrade_creates_the_embedded_database(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", "db", "upgrade", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "tunelab.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"tasks", "projects", "scalar_chunks", "task_metrics", "queues"} <= tables
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_bad_database_url_is_one_clear_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunelab.cli.main",
            "server",
            "--data-dir",
            str(tmp_path),
            "--database-url",
            "mysql://nobody@127.0.0.1/x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.startswith("error: unsupported database 'mysql'")
    assert "Traceback" not in done.stderr


@pytest.fixture
def pg_server(postgres_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "data", database_url=postgres_url)
    server.start()
    yield server
    server.stop()


@pytest.mark.postgres
def test_the_same_server_on_postgresql(pg_server: ServerProcess, tmp_path: Path) -> None:
    project = unique("pg")
    script = write_script(
        tmp_path / "code",
        f"""
        import argparse
        from tunelab import Task
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=0.3)
        parser.parse_args()
        task = Task.init(project_name={project!r}, task_name="on postgres")
        for i in range(1000):
            task.get_logger().report_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
        print("done")
        """,
    )
    result = run_script(script, script_env(pg_server.url, tmp_path))
    assert result.returncode == 0, result.stderr
    with ApiClient(pg_server.url) as client:
        task = client.get_task(client.list_tasks(project=project)["items"][0]["id"])
        assert task["status"] == "completed"
        assert task["hyperparameters"]["Args"]["lr"]["value"] == "0.3"
        summary = client.get_metrics(task["id"])["metrics"]["loss"]["train"]
        assert summary["count"] == 1000 and summary["min"] == pytest.approx(0.001)


def test_an_idle_connection_outlives_the_clients_keep_alive(server: ServerProcess) -> None:
    """httpx keeps an idle connection 5 s; the server keeps it longer, so a client that
    sends every 5 s (an agent's heartbeat) never sends on a connection the server is just
    closing. Measured on one raw connection: still open after 6 s of silence."""
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", "/api/v1/health")
        assert connection.getresponse().read() and connection.sock is not None
        opened = connection.sock
        time.sleep(6)
        connection.request("GET", "/api/v1/health")  # on the same socket: it was kept
        assert connection.sock is opened
        answer = connection.getresponse()  # RemoteDisconnected if the server had closed it
        assert answer.status == 200
    finally:
        connection.close()
