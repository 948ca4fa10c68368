"""The training loop's cost of ``report_image`` for a 256x256 uint8 array, and how fast the
background encodes (PNG, Pillow) and uploads to a real server's file store. Prints JSON.

    .venv/bin/python bench/bench_report_image.py [--images 200]

- ``call_us``: median, p90 and p99 of the calling thread's time per ``report_image`` (the
  array is copied and handed to the upload thread; nothing is encoded or sent on the caller);
- ``floor_us``: the same copy of the array alone, with no other thread at work;
- ``background``: images per second from the first call until every image is encoded,
  uploaded and registered (``task.flush()``), and the median encode time alone.

Target: the call under 1 ms.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.services import ServerProcess


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "server")
        server.start()
        try:
            os.environ.update(TUNELAB_API_URL=server.url, HOME=str(Path(tmp) / "home"))
            print(json.dumps(_measure(args.images), indent=2))
        finally:
            server.stop()


def _measure(count: int) -> dict[str, object]:
    from tunelab import Task

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (256, 256), dtype=np.uint8) for _ in range(count)]
    task = Task.init(project_name="bench", task_name="report_image")
    logger = task.get_logger()
    logger.report_image("warm", "up", iteration=0, image=images[0])  # Pillow, the back end
    task.flush()
    calls = []
    start = time.perf_counter()
    for i, image in enumerate(images):
        before = time.perf_counter()
        logger.report_image("bench", "noise", iteration=i, image=image, max_image_history=count)
        calls.append(time.perf_counter() - before)
    task.flush()
    total = time.perf_counter() - start
    # The floor: the same copy into a list, no threads about (the host's own noise).
    kept: list[np.ndarray] = []
    floor = []
    for image in images:
        before = time.perf_counter()
        kept.append(np.array(image, copy=True))
        floor.append(time.perf_counter() - before)
    encodes = []
    for image in images[:50]:
        before = time.perf_counter()
        Image.fromarray(image).save(io.BytesIO(), format="PNG")
        encodes.append(time.perf_counter() - before)
    task.close()
    return {
        "images": count,
        "call_us": _spread(calls),
        "floor_us": _spread(floor),
        "background": {
            "images_per_s": round(count / total, 1),
            "encode_ms_median": round(statistics.median(encodes) * 1e3, 2),
        },
    }


def _spread(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(x * 1e6 for x in seconds)
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(ordered[int(len(ordered) * 0.9)], 1),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
    }


if __name__ == "__main__":
    main()
