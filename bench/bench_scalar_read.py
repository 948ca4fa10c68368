"""Reading one 100k-point series at full resolution over HTTP: the JSON answer vs the binary
frame (``Accept: application/vnd.tunelab.scalar-frame``), side by side on a real server
process. Prints, as JSON, the median of 15 reads (after 2 warm-ups) of each: the raw HTTP
read (and the server's own share, from its Server-Timing header), and the SDK's
``ApiClient.get_scalars`` (which asks for the frame and decodes it into lists) against
``ApiClient._request`` reading the JSON.

    .venv/bin/python bench/bench_scalar_read.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import numpy as np
from tests.services import ServerProcess

from tunelab.domain.scalar_wire import FRAME_CONTENT_TYPE
from tunelab.sdk.transport import ApiClient

POINTS, READS, WARMUPS = 100_000, 15, 2


def median_ms(read: Callable[[], Any], server: list[float] | None = None) -> float:
    """The median wall time of ``read``; where it answers an httpx response, the server's own
    time (its ``Server-Timing`` header) is appended to ``server``."""
    for _ in range(WARMUPS):
        read()
    times, own = [], []
    for _ in range(READS):
        start = time.perf_counter()
        answer = read()
        times.append(time.perf_counter() - start)
        if isinstance(answer, httpx.Response):
            own.append(float(answer.headers["server-timing"].split("dur=")[1]))
    if server is not None and own:
        server.append(round(statistics.median(own), 1))
    return round(statistics.median(times) * 1000, 1)


def read_json(http: httpx.Client, url: str) -> httpx.Response:
    answer = http.get(url)
    answer.json()
    return answer


def main() -> None:
    its = np.arange(POINTS, dtype="<i8")
    series = {
        "metric": "loss",
        "variant": "train",
        "iterations": its.tobytes(),
        "values": np.sin(its / 100.0).astype("<f8").tobytes(),
        "timestamps": (1.7e9 + its * 0.01).astype("<f8").tobytes(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data")
        server.start()
        try:
            with ApiClient(server.url) as client, httpx.Client(timeout=60) as http:
                task = client.create_task({"name": "read", "project": "bench", "status": "running"})
                client.post_scalars(task["id"], {"batch_id": None, "series": [series]})
                path = f"/tasks/{task['id']}/scalars"
                url = f"{server.url}/api/v1{path}?max_points=0"
                sizes = {
                    "json": len(http.get(url).content),
                    "frame": len(http.get(url, headers={"Accept": FRAME_CONTENT_TYPE}).content),
                }
                server_ms: list[float] = []
                figures = {
                    "http_json_ms": median_ms(lambda: read_json(http, url), server_ms),
                    "http_frame_ms": median_ms(
                        lambda: http.get(url, headers={"Accept": FRAME_CONTENT_TYPE}), server_ms
                    ),
                    "sdk_json_ms": median_ms(
                        lambda: client._request("GET", path, params={"max_points": 0})
                    ),
                    "sdk_frame_ms": median_ms(lambda: client.get_scalars(task["id"], 0)),
                }
                figures["server_json_ms"], figures["server_frame_ms"] = server_ms
        finally:
            server.stop()
    print(
        json.dumps(
            {
                "benchmark": f"read one {POINTS:,}-point series at full resolution "
                f"(median of {READS}, ms)",
                **figures,
                "bytes": sizes,
                "json_over_frame_http": round(
                    figures["http_json_ms"] / figures["http_frame_ms"], 1
                ),
                "json_over_frame_sdk": round(figures["sdk_json_ms"] / figures["sdk_frame_ms"], 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
