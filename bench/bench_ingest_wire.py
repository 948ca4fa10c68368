"""Server ingest over HTTP by wire format: JSON with base64 arrays vs the binary frame the SDK
sends. The same pre-packed batches (10 series x 5,000 points) are posted 10 times to a real
server process; prints the best of 3 runs in points/s as JSON.

    .venv/bin/python bench/bench_ingest_wire.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services import ServerProcess

from tunelab.domain.scalar_wire import pack_floats, pack_floats_raw, pack_ints, pack_ints_raw
from tunelab.sdk.transport import ApiClient

SERIES, POINTS, POSTS, RUNS = 10, 5_000, 10, 3


def main() -> None:
    its = list(range(POINTS))
    values = [i * 0.5 for i in its]
    stamps = [time.time()] * POINTS
    formats = {
        "json_base64": (pack_ints, pack_floats),
        "binary_frame": (pack_ints_raw, pack_floats_raw),
    }
    figures: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data")
        server.start()
        try:
            with ApiClient(server.url) as client:
                task = client.create_task({"name": "wire", "project": "bench", "status": "running"})
                for name, (ints, floats) in formats.items():
                    series = [
                        {"metric": f"m{m}", "variant": "v", "iterations": ints(its),
                         "values": floats(values), "timestamps": floats(stamps)}
                        for m in range(SERIES)
                    ]  # fmt: skip
                    best = 0.0
                    for _ in range(RUNS):
                        start = time.perf_counter()
                        for _ in range(POSTS):
                            batch = {"batch_id": uuid.uuid4().hex, "series": series}
                            client.post_scalars(task["id"], batch)
                        best = max(best, POSTS * SERIES * POINTS / (time.perf_counter() - start))
                    figures[name] = round(best)
        finally:
            server.stop()
    print(
        json.dumps(
            {
                "benchmark": "server ingest over HTTP by wire format (points/s, best of 3)",
                **figures,
                "frame_over_json": round(figures["binary_frame"] / figures["json_base64"], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
