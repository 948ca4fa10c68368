"""The MLflow client logging into Tunelab (``/mlflow``), and into ``mlflow server`` on
SQLite for comparison. Prints JSON: points per second for each case, and with ``--mlflow``
the ratio Tunelab / ``mlflow server`` of each.

    .venv/bin/python bench/bench_mlflow_client.py [--batches 5] [--singles 100]
        [--async-points 500] [--history 100000] [--mlflow /path/to/venv/bin/mlflow]

Cases, each on a fresh run:

- ``log_batch``: ``MlflowClient.log_batch`` with 1,000 metrics per request (MLflow's limit
  per request), ``--batches`` requests: 10 metric keys x 100 steps each, the ``Metric``
  objects made before the clock starts; ``log_batch_server_cpu_ms_per_request``: the
  server's CPU time per request (its processes' user and system time, from ``/proc``),
  which a busy host changes less than the time on the clock;
- ``log_metric``: ``MlflowClient.log_metric``, one point per request, ``--singles`` requests;
- ``log_metric_async``: ``MlflowClient.log_metric(..., synchronous=False)``,
  ``--async-points`` calls, timed until every call's operation is done and the points are
  all stored (the client's queue sends them as ``log-batch`` requests of up to 1,000);
- ``get_metric_history``: ``MlflowClient.get_metric_history`` of one metric of
  ``--history`` points (logged with ``log_batch`` first, 1,000 per request), which the
  client reads in pages of 25,000;
- ``log_batch_http``, ``log_metric_http``, ``get_metric_history_http``: the same requests
  made with httpx (``log_batch_http``'s bodies encoded beforehand), without the MLflow
  client: the server's share (the client builds protobuf messages and JSON for each
  request, and a protobuf message per point read back, which costs more than storing or
  reading them).

``client_floor``: the MLflow client's ``log_metric`` (sync and async) and ``log_batch`` of
1,000 metrics against a server that answers ``{}`` at once, doing nothing: the client's own
time per call, under which no server gets.

``--mlflow``: the ``mlflow`` command of an environment with the full ``mlflow`` package (the
server is not in ``mlflow-skinny``); the same cases run against ``mlflow server
--backend-store-uri sqlite:///…`` in the same run. The client is this environment's
``mlflow-skinny`` for both.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlflow import MlflowClient
from mlflow.entities import Metric
from tests.services import ServerProcess, free_port


def bench(
    tracking_uri: str, args: argparse.Namespace, found: dict[str, Any], cpu: Callable[[], float]
) -> Iterator[None]:
    """The cases one after the other into ``found``, pausing after each: ``main`` runs each
    case on both servers before the next, so a ratio compares runs close in time. ``cpu``
    reads the server's CPU seconds so far."""
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.create_experiment(f"bench-{time.time_ns()}")
    stamp = int(time.time() * 1000)

    run = client.create_run(experiment).info.run_id
    # The metrics made beforehand: the time is ``log_batch``'s, not the Metric objects'.
    batches = [
        [
            Metric(f"m{k}", float(step), stamp, b * 100 + step)
            for k in range(10)
            for step in range(100)
        ]
        for b in range(args.batches)
    ]
    began = cpu()
    started = time.perf_counter()
    for metrics in batches:
        client.log_batch(run, metrics=metrics)
    seconds = time.perf_counter() - started
    found["log_batch_points_per_s"] = round(args.batches * 1000 / seconds)
    found["log_batch_ms_per_request"] = round(seconds / args.batches * 1000, 1)
    found["log_batch_server_cpu_ms_per_request"] = round((cpu() - began) / args.batches * 1000, 2)
    yield

    run = client.create_run(experiment).info.run_id
    started = time.perf_counter()
    for step in range(args.singles):
        client.log_metric(run, "loss", 1.0 / (step + 1), timestamp=stamp, step=step)
    seconds = time.perf_counter() - started
    assert len(client.get_metric_history(run, "loss")) == args.singles
    found["log_metric_points_per_s"] = round(args.singles / seconds)
    found["log_metric_ms_per_request"] = round(seconds / args.singles * 1000, 2)
    yield

    run = client.create_run(experiment).info.run_id
    started = time.perf_counter()
    operations = [
        client.log_metric(run, "loss", 1.0 / (step + 1), stamp, step, synchronous=False)
        for step in range(args.async_points)
    ]
    for operation in operations:
        operation.wait()
    stored = len(client.get_metric_history(run, "loss"))
    seconds = time.perf_counter() - started
    assert stored == args.async_points, stored
    found["log_metric_async_points_per_s"] = round(args.async_points / seconds)
    yield

    run = client.create_run(experiment).info.run_id
    started = time.perf_counter()
    for first in range(0, args.history, 1000):
        steps = range(first, min(first + 1000, args.history))
        client.log_batch(run, metrics=[Metric("history", float(s), stamp + s, s) for s in steps])
    found["history_logged_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    history = client.get_metric_history(run, "history")
    seconds = time.perf_counter() - started
    assert [m.step for m in history] == list(range(args.history))
    found["get_metric_history_s"] = round(seconds, 3)
    found["get_metric_history_points_per_s"] = round(args.history / seconds)
    seconds = _history_http(tracking_uri, run, args.history)
    found["get_metric_history_http_points_per_s"] = round(args.history / seconds)
    yield

    run = client.create_run(experiment).info.run_id
    api = f"{tracking_uri}/api/2.0/mlflow/runs/log-metric"
    with httpx.Client(timeout=120) as http:
        started = time.perf_counter()
        for step in range(args.singles):
            point = {"run_id": run, "key": "loss", "value": 0.5, "timestamp": stamp, "step": step}
            http.post(api, json=point).raise_for_status()
        seconds = time.perf_counter() - started
    found["log_metric_http_points_per_s"] = round(args.singles / seconds)
    yield

    run = client.create_run(experiment).info.run_id
    api = f"{tracking_uri}/api/2.0/mlflow/runs/log-batch"
    bodies = [
        json.dumps(
            {
                "run_id": run,
                "metrics": [
                    {
                        "key": f"m{k}",
                        "value": float(step),
                        "timestamp": stamp,
                        "step": b * 100 + step,
                    }
                    for k in range(10)
                    for step in range(100)
                ],
            }
        ).encode()
        for b in range(args.batches)
    ]
    headers = {"content-type": "application/json"}
    with httpx.Client(timeout=120) as http:
        began = cpu()
        started = time.perf_counter()
        for body in bodies:
            http.post(api, content=body, headers=headers).raise_for_status()
        seconds = time.perf_counter() - started
    found["log_batch_http_points_per_s"] = round(args.batches * 1000 / seconds)
    found["log_batch_http_server_cpu_ms_per_request"] = round(
        (cpu() - began) / args.batches * 1000, 2
    )
    yield


def _history_http(tracking_uri: str, run: str, points: int) -> float:
    """Seconds to read the metric's pages of 25,000 (as MLflow's client asks) with httpx."""
    api = f"{tracking_uri}/api/2.0/mlflow/metrics/get-history"
    query = {"run_id": run, "metric_key": "history", "max_results": "25000"}
    read = 0
    with httpx.Client(timeout=120) as http:
        started = time.perf_counter()
        token = ""
        while True:
            page = http.get(api, params={**query, "page_token": token} if token else query)
            body = page.raise_for_status().json()
            read += len(body["metrics"])
            token = body.get("next_page_token", "")
            if not token:
                break
        seconds = time.perf_counter() - started
    assert read == points, read
    return seconds


# A server that answers every request with ``{}`` at once: the client's floor.
_FLOOR_SERVER = """
import asyncio

ANSWER = b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\ncontent-length: 2\\r\\n\\r\\n{}"

async def answer(reader, writer):
    while not reader.at_eof():
        try:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        for line in head.split(b"\\r\\n"):
            if line.lower().startswith(b"content-length:"):
                await reader.readexactly(int(line.split(b":")[1]))
        writer.write(ANSWER)
        await writer.drain()

async def main():
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


def client_floor(args: argparse.Namespace) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _FLOOR_SERVER], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        client = MlflowClient(tracking_uri=f"http://127.0.0.1:{int(proc.stdout.readline())}")
        run = "0" * 32
        started = time.perf_counter()
        for step in range(args.singles):
            client.log_metric(run, "loss", 0.5, timestamp=1, step=step)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        operations = [
            client.log_metric(run, "loss", 0.5, 1, step, synchronous=False)
            for step in range(args.async_points)
        ]
        for operation in operations:
            operation.wait()
        async_seconds = time.perf_counter() - started
        batches = [
            [Metric(f"m{k}", 0.5, 1, b * 100 + step) for k in range(10) for step in range(100)]
            for b in range(args.batches)
        ]
        started = time.perf_counter()
        for metrics in batches:
            client.log_batch(run, metrics=metrics)
        batch_seconds = time.perf_counter() - started
    finally:
        stop(proc)
    return {
        "log_metric_points_per_s": round(args.singles / seconds),
        "log_metric_ms_per_request": round(seconds / args.singles * 1000, 2),
        "log_metric_async_points_per_s": round(args.async_points / async_seconds),
        "log_batch_points_per_s": round(args.batches * 1000 / batch_seconds),
        "log_batch_ms_per_request": round(batch_seconds / args.batches * 1000, 1),
    }


def mlflow_server(command: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            command,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{folder}/mlflow.db",
            "--default-artifact-root",
            str(folder / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=folder,  # where it puts the stores it is not told about (its own mlflow.db)
        # No job runner: MLflow 3 starts huey consumers beside the server otherwise, which
        # outlive it and share the two cores with the bench.
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        start_new_session=True,  # its workers are stopped with it, as a group
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("mlflow server did not start")


def stop(proc: subprocess.Popen[Any]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU seconds so far (Linux ``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(group: int) -> float:
    """User and system CPU seconds of the live processes of process group ``group`` (a
    server and the workers it started), from ``/proc`` (Linux)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[2]) == group:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def ratios(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float]:
    """Tunelab / mlflow server for each rate (points per second; for the history, the
    inverse ratio of the seconds the read took)."""
    return {
        key.removesuffix("_points_per_s"): round(ours[key] / theirs[key], 1)
        for key in ours
        if key.endswith("_points_per_s")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--singles", type=int, default=100)
    parser.add_argument("--async-points", type=int, default=500)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--mlflow", help="the mlflow command of a full mlflow install")
    args = parser.parse_args()
    found: dict[str, Any] = {"tunelab": {}}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        server = ServerProcess(Path(tmp) / "tunelab")
        server.start()
        servers.callback(server.stop)
        assert server.proc is not None
        pid = server.proc.pid
        runs = [bench(f"{server.url}/mlflow", args, found["tunelab"], lambda: cpu_seconds(pid))]
        if args.mlflow:
            proc, url = mlflow_server(args.mlflow, Path(tmp))
            servers.callback(stop, proc)
            found["mlflow_server_sqlite"] = {}
            group = proc.pid  # its own session: the server and its workers
            runs.append(
                bench(url, args, found["mlflow_server_sqlite"], lambda: group_cpu_seconds(group))
            )
        for _ in zip(*runs, strict=True):
            pass  # one case on each server in turn
    if args.mlflow:
        found["ratio_tunelab_to_mlflow"] = ratios(found["tunelab"], found["mlflow_server_sqlite"])
    found["client_floor"] = client_floor(args)
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
