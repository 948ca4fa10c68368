"""Load: 64 SDK clients (each its own process, a real script with ``Task.init`` logging 5
scalars and one console line 10 times a second) and 16 ``tunelab agent daemon`` processes
polling 8 mostly empty queues (10 trivial tasks enqueued over the run), against a real
``tunelab server`` on SQLite and/or PostgreSQL, for ``--seconds`` after the last client has
started. Prints JSON: errors, p50/p95/p99 latency per route kind (the server's
``Server-Timing`` and the client's time to the response's headers), the server's RSS
(start/peak/end, and its slope once every client runs), points sent vs stored.

    .venv/bin/python bench/bench_load.py [--db sqlite|postgres|both] [--seconds 300]
        [--clients 64] [--agents 16] [--rate 10] [--metrics 5] [--stagger 0.5]
        [--login] [--samples FILE]  # login on (clients, agents and reads with API keys);
                                    # also write every RSS sample (JSON)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.accounts import AUTH_ON
from tests.load.accounts import make_load_accounts
from tests.load.run import LoadConfig, run_load, server_complaints
from tests.services import ServerProcess, postgres_server

from tunelab.store.engine import sqlite_url


@contextlib.contextmanager
def _database(kind: str) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None
    else:
        with postgres_server() as url:
            yield url


def run_once(kind: str, config: LoadConfig, login: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tunelab-load-") as tmp, _database(kind) as url:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        keys = make_load_accounts(url or sqlite_url(data_dir)) if login else None
        server = ServerProcess(data_dir, database_url=url, env=AUTH_ON if login else None)
        server.start()
        try:
            assert server.proc is not None
            report = run_load(server.url, server.proc.pid, Path(tmp) / "load", config, keys)
        finally:
            server.stop()
            log = server.log_path.read_text()
        report["errors"] += server_complaints(log)
    return {"database": kind, **report}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--stagger", type=float, default=0.5)
    parser.add_argument("--agent-tasks", type=int, default=10)
    parser.add_argument("--login", action="store_true")
    parser.add_argument("--samples", type=Path, default=None)
    args = parser.parse_args()
    config = LoadConfig(
        clients=args.clients, agents=args.agents, seconds=args.seconds, rate=args.rate,
        metrics=args.metrics, stagger=args.stagger, agent_tasks=args.agent_tasks,
    )  # fmt: skip
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    reports = [run_once(kind, config, args.login) for kind in kinds]
    if args.samples:
        args.samples.write_text(json.dumps({r["database"]: r["rss_samples"] for r in reports}))
    for report in reports:
        samples = report.pop("rss_samples")
        report["errors_count"] = len(report["errors"])
        report["errors"] = report["errors"][:30]
        report["server_rss_mb_every_30s"] = [s["server_rss_mb"] for s in samples[::15]]
        print(json.dumps({"benchmark": "load", **report}, indent=2))


if __name__ == "__main__":
    main()
