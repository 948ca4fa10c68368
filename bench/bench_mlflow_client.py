"""The MLflow client logging into Tunelab (``/mlflow``), and into ``mlflow server`` on
SQLite for comparison. Prints JSON: points per second for each case.

    .venv/bin/python bench/bench_mlflow_client.py [--batches 5] [--singles 100]
        [--mlflow /path/to/venv/bin/mlflow]

Cases, each on a fresh run:

- ``log_batch``: ``MlflowClient.log_batch`` with 1,000 metrics per request (MLflow's limit
  per request), ``--batches`` requests: 10 metric keys x 100 steps each;
- ``log_metric``: ``MlflowClient.log_metric``, one point per request, ``--singles`` requests;
- ``log_batch_http``: the same 1,000-metric bodies posted with httpx, without the MLflow
  client: the server's share of ``log_batch`` (the client builds protobuf messages and
  JSON for each request, which costs more than storing them).

``--mlflow``: the ``mlflow`` command of an environment with the full ``mlflow`` package (the
server is not in ``mlflow-skinny``); the same cases run against ``mlflow server
--backend-store-uri sqlite:///…`` in the same run. The client is this environment's
``mlflow-skinny`` for both.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlflow import MlflowClient
from mlflow.entities import Metric
from tests.services import ServerProcess, free_port


def bench(tracking_uri: str, batches: int, singles: int) -> dict[str, Any]:
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.create_experiment(f"bench-{time.time_ns()}")
    run = client.create_run(experiment).info.run_id
    stamp = int(time.time() * 1000)
    started = time.perf_counter()
    for b in range(batches):
        metrics = [
            Metric(f"m{k}", float(step), stamp, b * 100 + step)
            for k in range(10)
            for step in range(100)
        ]
        client.log_batch(run, metrics=metrics)
    batch_seconds = time.perf_counter() - started
    run = client.create_run(experiment).info.run_id
    started = time.perf_counter()
    for step in range(singles):
        client.log_metric(run, "loss", 1.0 / (step + 1), timestamp=stamp, step=step)
    single_seconds = time.perf_counter() - started
    stored = client.get_metric_history(run, "loss")
    assert len(stored) == singles, len(stored)
    run = client.create_run(experiment).info.run_id
    api = f"{tracking_uri}/api/2.0/mlflow/runs/log-batch"
    with httpx.Client(timeout=120) as http:
        started = time.perf_counter()
        for b in range(batches):
            body = {
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
            http.post(api, json=body).raise_for_status()
        http_seconds = time.perf_counter() - started
    return {
        "log_batch_http_points_per_s": round(batches * 1000 / http_seconds),
        "log_batch_points_per_s": round(batches * 1000 / batch_seconds),
        "log_batch_ms_per_request": round(batch_seconds / batches * 1000, 1),
        "log_metric_points_per_s": round(singles / single_seconds),
        "log_metric_ms_per_request": round(single_seconds / singles * 1000, 2),
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
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("mlflow server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--singles", type=int, default=100)
    parser.add_argument("--mlflow", help="the mlflow command of a full mlflow install")
    args = parser.parse_args()
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "tunelab")
        server.start()
        try:
            found["tunelab"] = bench(f"{server.url}/mlflow", args.batches, args.singles)
        finally:
            server.stop()
        if args.mlflow:
            proc, url = mlflow_server(args.mlflow, Path(tmp))
            try:
                found["mlflow_server_sqlite"] = bench(url, args.batches, args.singles)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
