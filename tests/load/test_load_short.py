"""A short load on SQLite and on PostgreSQL, login on: 16 SDK clients (real scripts, one
process each, a member's key) logging scalars and console lines, 4 real agent daemons (a
worker account's key) polling, a reader, for ~16 s.

No request may fail, no SDK or agent may warn, the server may not complain; every point and
console line arrives exactly once; the server's memory stays bounded. The 5-minute version
with 64 clients and 16 agents is ``bench/bench_load.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.accounts import AUTH_ON
from tests.load.accounts import LoadKeys, make_load_accounts
from tests.load.run import LoadConfig, run_load, server_complaints
from tests.services import ServerProcess
from tunelab.store.engine import sqlite_url

CONFIG = LoadConfig(
    clients=16, agents=4, seconds=12.0, rate=10.0, metrics=5, stagger=0.25, queues=2,
    agent_tasks=2,
)  # fmt: skip

# The server's RSS may grow while it warms up (imports, pools, caches), not without bound:
# 16 clients add ~20 MB at most here; a leak of what each request carries shows up as more.
MAX_GROWTH_MB = 100.0
MAX_STEADY_GROWTH_MB = 30.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def load_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServerProcess, LoadKeys]]:
    url = request.getfixturevalue("postgres_database") if request.param == "postgres" else None
    (tmp_path / "data").mkdir()
    keys = make_load_accounts(url or sqlite_url(tmp_path / "data"))
    server = ServerProcess(tmp_path / "data", database_url=url, env=AUTH_ON)
    server.start()
    try:
        yield server, keys
    finally:
        server.stop()


@pytest.mark.slow
def test_a_short_load_loses_nothing_fails_nothing_and_memory_stays_bounded(
    load_server: tuple[ServerProcess, LoadKeys], tmp_path: Path
) -> None:
    server, keys = load_server
    assert server.proc is not None
    report = run_load(server.url, server.proc.pid, tmp_path / "load", CONFIG, keys)
    errors = report["errors"] + server_complaints(server.log_path.read_text())

    assert errors == []
    # Every series and console was checked line by line; the totals say it was not empty.
    # Half the nominal rate at least: on a busy 2-core host a client may fall behind it.
    nominal = CONFIG.clients * CONFIG.metrics * CONFIG.rate * CONFIG.seconds
    assert report["points_stored"] == report["points_sent"] >= nominal / 2
    assert report["console_lines_stored"] == report["console_lines_sent"] > 0
    assert report["agent_tasks"] == CONFIG.agent_tasks
    kinds = report["latency_ms"]
    for kind in ("ingest frames", "console", "polls (long, up to 5 s)", "heartbeats", "reads"):
        assert kinds[kind]["requests"] > 0, kind
        assert kinds[kind]["server_ms"]["p99"] > 0, kind
    memory = report["memory"]
    assert memory["samples"] >= 5
    assert memory["peak_mb"] - memory["start_mb"] < MAX_GROWTH_MB, report["rss_samples"]
    assert memory["end_mb"] - memory["steady_start_mb"] < MAX_STEADY_GROWTH_MB, memory
