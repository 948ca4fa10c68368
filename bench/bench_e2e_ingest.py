"""End-to-end ingest: from ``Task.init`` until 1M points (10 metrics x 100k iterations)
are readable on a real server process. Prints JSON.

    .venv/bin/python bench/bench_e2e_ingest.py [--points-per-metric 100000] [--metrics 10]
        [--scripts 4] [--rounds 3] [--postgres | --database-url URL] [--pg-compression both]

``--scripts N`` runs N training scripts at once, each with its own task, and counts the
points of all of them from the first ``Task.init`` to the last flush. ``--postgres`` also
runs every round on PostgreSQL: a throwaway server in a temporary directory with its default
settings (fsync and ``synchronous_commit`` on; a fresh database per round), or the one
``--database-url`` names (its database is migrated and written to). ``--pg-compression``
chooses how the chunk arrays are compressed there: ``lz4`` as migrated, ``pglz`` as before
migration 0015, or ``both``. Rounds interleave the stores, so the PostgreSQL / SQLite ratio
of each round compares runs made a few seconds apart on a host whose speed drifts.

``--monitor on|off|both``: the scripts' resource monitor (system metrics, on by default in
``Task.init``), reporting every ``--monitor-report-sec`` seconds (default 30, as Task.init);
``both`` runs each store with it on and off in the same round and gives the on / off ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa
from tests.services import ServerProcess, postgres_database, postgres_server

SCRIPT = """
import json, sys, time
t_import = time.perf_counter()
from tunelab import Task
import tunelab.sdk.task
metrics, per_metric = {metrics}, {per_metric}
names = ["metric%d" % m for m in range(metrics)]

# Calibration: the same loop calling the cheapest Python reporting function (an append).
floor_points = []
def floor(title, series, value, iteration, append=floor_points.append):
    append((value, iteration))
t = time.perf_counter()
for i in range(per_metric):
    value = i * 0.5
    for name in names:
        floor(name, "series", value, i)
floor_s = time.perf_counter() - t
del floor_points[:]

wall0 = time.time()
t0 = time.perf_counter()
task = Task.init(project_name="bench", task_name="ingest", auto_resource_monitoring={monitoring})
report = task.get_logger().report_scalar
t1 = time.perf_counter()
for i in range(per_metric):
    value = i * 0.5
    for name in names:
        report(name, "series", value, i)
t2 = time.perf_counter()
task.flush()
t3 = time.perf_counter()
print(json.dumps({{"import_s": t0 - t_import - floor_s, "init_s": t1 - t0,
                  "report_loop_s": t2 - t1, "flush_s": t3 - t2, "total_s": t3 - t0,
                  "floor_loop_s": floor_s, "task_id": task.id,
                  "wall_start": wall0, "wall_end": wall0 + (t3 - t0)}}))
"""

SQLITE = "sqlite"


def set_chunk_compression(url: str, method: str) -> dict[str, Any]:
    """Compress the chunk arrays with ``method`` from now on; answers the server's settings
    that bear on ingest, for the record."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for column in ("iterations", "values", "timestamps"):
                conn.exec_driver_sql(
                    f'ALTER TABLE scalar_chunks ALTER COLUMN "{column}" SET COMPRESSION {method}'
                )
            settings = {
                name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                for name in ("server_version", "fsync", "synchronous_commit")
            }
            # Looked up while this backend lives: it exits once the engine is disposed.
            backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            settings["postmaster"] = local_postmaster(backend)
            settings["chunk_compression"] = sorted(
                set(
                    conn.exec_driver_sql(
                        "SELECT attcompression FROM pg_attribute WHERE attrelid = "
                        "'scalar_chunks'::regclass AND attname IN "
                        "('iterations', 'values', 'timestamps')"
                    ).scalars()
                )
            )
    finally:
        engine.dispose()
    return settings


def _stat(pid: int) -> list[str]:
    # The fields after "(comm)": state is [0], ppid [1], utime..cstime [11:15].
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def process_cpu_s(pid: int) -> float:
    """CPU seconds a process has used, with its children that have exited."""
    fields = _stat(pid)
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s(postmaster: int) -> float:
    """CPU seconds of a local PostgreSQL server: the postmaster, its live processes (backends,
    WAL writer, checkpointer...) and those that have exited."""
    total = process_cpu_s(postmaster)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = _stat(int(entry.name))
            except OSError:  # exited meanwhile
                continue
            if int(fields[1]) == postmaster:
                total += sum(int(f) for f in fields[11:13]) / os.sysconf("SC_CLK_TCK")
    return total


def local_postmaster(backend_pid: int) -> int | None:
    """The postmaster of a backend that runs on this machine, or None (a remote server)."""
    try:
        parent = int(_stat(backend_pid)[1])
        return parent if b"postgres" in Path(f"/proc/{parent}/cmdline").read_bytes() else None
    except OSError:
        return None


def stored_points(url: str, task_id: str) -> int:
    """The script's own points (the system metrics aside)."""
    summary = httpx.get(f"{url}/api/v1/tasks/{task_id}/metrics", timeout=60).json()
    return sum(
        v["count"]
        for metric, variants in summary["metrics"].items()
        if not metric.startswith(":monitor:")
        for v in variants.values()
    )


def run_round(
    database_url: str | None, compression: str | None, args: argparse.Namespace, monitor: bool
) -> dict[str, Any]:
    """Start a server on the store, run the scripts at once, check every point is stored."""
    total = args.metrics * args.points_per_metric
    with tempfile.TemporaryDirectory(prefix="tunelab-bench-") as tmp:
        server = ServerProcess(Path(tmp) / "data", database_url=database_url)
        server.start(timeout=120)
        try:
            settings = set_chunk_compression(database_url, compression) if database_url else {}
            script = Path(tmp) / "ingest.py"
            script.write_text(
                textwrap.dedent(SCRIPT).format(
                    metrics=args.metrics,
                    per_metric=args.points_per_metric,
                    monitoring={"report_frequency_sec": args.monitor_report_sec}
                    if monitor
                    else False,
                )
            )
            env = {**os.environ, "TUNELAB_API_URL": server.url, "HOME": tmp}
            assert server.proc is not None
            postmaster = settings.pop("postmaster", None)

            def store_cpu_s() -> tuple[float, float]:
                own = process_cpu_s(server.proc.pid)  # type: ignore[union-attr]
                return own, (postgres_cpu_s(postmaster) if postmaster else 0.0)

            cpu_before = store_cpu_s()
            procs = [
                subprocess.Popen(
                    [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
                )
                for _ in range(args.scripts)
            ]
            outs = [proc.communicate()[0] for proc in procs]
            if any(proc.returncode for proc in procs):
                raise RuntimeError(f"a script failed: {[p.returncode for p in procs]}")
            cpu = [after - before for after, before in zip(store_cpu_s(), cpu_before, strict=True)]
            figures = [json.loads(out.strip().splitlines()[-1]) for out in outs]
            stored = [stored_points(server.url, f["task_id"]) for f in figures]
        finally:
            server.stop()
    assert stored == [total] * args.scripts, f"stored {stored} of {total} points per script"
    span = max(f["wall_end"] for f in figures) - min(f["wall_start"] for f in figures)
    if args.scripts == 1:
        span = figures[0]["total_s"]
    result: dict[str, Any] = {"points_per_s": round(total * args.scripts / span), "span_s": span}
    if args.scripts == 1:
        (one,) = figures
        result |= {
            key: round(one[key], 3)
            for key in ("import_s", "init_s", "report_loop_s", "flush_s", "floor_loop_s")
        }
        result["total_over_floor_loop"] = round(one["total_s"] / one["floor_loop_s"], 2)
    else:
        result["slowest_script_s"] = round(max(f["total_s"] for f in figures), 3)
        result["slowest_flush_s"] = round(max(f["flush_s"] for f in figures), 3)
    result["span_s"] = round(span, 3)
    # Host-independent: the server's and the database's CPU per point stored (the
    # database's own processes only where it runs on this machine).
    per_point = 1e6 / (total * args.scripts)
    result["store_cpu_us_per_point"] = round(sum(cpu) * per_point, 3)
    if database_url:
        result["server_and_database_cpu_us_per_point"] = [round(c * per_point, 3) for c in cpu]
    return result | ({"postgresql": settings} if settings else {})


@contextmanager
def postgres(args: argparse.Namespace) -> Iterator[str | None]:
    """The PostgreSQL server rounds run on, if any (a throwaway one unless a URL is given)."""
    if args.database_url:
        yield args.database_url
    elif args.postgres:
        with postgres_server(durable=True) as url:
            yield url
    else:
        yield None


def spread(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 2),
        "median": round(statistics.median(values), 2),
        "max": round(max(values), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--points-per-metric", type=int, default=100_000)
    parser.add_argument("--scripts", type=int, default=1, help="scripts logging at once")
    parser.add_argument("--rounds", type=int, default=1, help="runs per store, interleaved")
    parser.add_argument("--postgres", action="store_true", help="also a throwaway PostgreSQL")
    parser.add_argument("--database-url", help="also this PostgreSQL database (migrated)")
    parser.add_argument("--pg-compression", choices=("lz4", "pglz", "both"), default="lz4")
    parser.add_argument("--monitor", choices=("on", "off", "both"), default="on")
    parser.add_argument("--monitor-report-sec", type=float, default=30.0)
    args = parser.parse_args()
    variants = ["on", "off"] if args.monitor == "both" else [args.monitor]

    def key(store: str, variant: str) -> str:
        return store if len(variants) == 1 else f"{store}, monitor {variant}"

    methods = ["lz4", "pglz"] if args.pg_compression == "both" else [args.pg_compression]
    runs: dict[str, list[dict[str, Any]]] = {}
    with postgres(args) as pg_url:
        stores = [SQLITE] + ([f"postgresql {m}" for m in methods] if pg_url else [])
        for _ in range(args.rounds):
            for store in stores:
                for variant in variants:
                    with ExitStack() as stack:
                        url, method = None, None
                        if store != SQLITE:
                            method = store.split()[1]
                            url = pg_url
                            if not args.database_url:  # a fresh database per round
                                url = stack.enter_context(postgres_database(pg_url, "bench"))
                        result = run_round(url, method, args, monitor=variant == "on")
                        runs.setdefault(key(store, variant), []).append(result)
    total = args.metrics * args.points_per_metric
    report: dict[str, Any] = {
        "benchmark": "end-to-end ingest (from Task.init until every point is stored)",
        "points_per_script": total,
        "scripts": args.scripts,
        "runs": runs,
        "points_per_s": {
            store: spread([r["points_per_s"] / 1e6 for r in rs]) for store, rs in runs.items()
        },
    }
    report["store_cpu_us_per_point"] = {
        store: spread([r["store_cpu_us_per_point"] for r in rs]) for store, rs in runs.items()
    }
    for store in stores[1:]:
        for variant in variants:
            ratios = [
                pg["points_per_s"] / lite["points_per_s"]
                for pg, lite in zip(
                    runs[key(store, variant)], runs[key(SQLITE, variant)], strict=True
                )
            ]
            report[f"{key(store, variant)} / sqlite, same round"] = spread(ratios)
    if len(variants) == 2:
        report["monitor_report_sec"] = args.monitor_report_sec
        for store in stores:
            ratios = [
                on["points_per_s"] / off["points_per_s"]
                for on, off in zip(runs[key(store, "on")], runs[key(store, "off")], strict=True)
            ]
            report[f"{store}: monitor on / off, same round"] = spread(ratios)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
