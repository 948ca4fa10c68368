"""End-to-end ingest: from ``Task.init`` until 1M points (10 metrics x 100k iterations)
are readable on a real server process. Prints JSON.

    .venv/bin/python bench/bench_e2e_ingest.py [--points-per-metric 100000] [--metrics 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services import ServerProcess

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

t0 = time.perf_counter()
task = Task.init(project_name="bench", task_name="ingest")
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
                  "floor_loop_s": floor_s, "task_id": task.id}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--points-per-metric", type=int, default=100_000)
    args = parser.parse_args()
    total = args.metrics * args.points_per_metric
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data")
        server.start()
        try:
            script = Path(tmp) / "ingest.py"
            script.write_text(
                textwrap.dedent(SCRIPT).format(
                    metrics=args.metrics, per_metric=args.points_per_metric
                )
            )
            env = {**os.environ, "TUNELAB_API_URL": server.url, "HOME": tmp}
            started = time.perf_counter()
            out = subprocess.run(
                [sys.executable, str(script)], env=env, capture_output=True, text=True, check=True
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            import httpx

            summary = httpx.get(f"{server.url}/api/v1/tasks/{figures['task_id']}/metrics").json()
            stored = sum(
                v["count"] for variants in summary["metrics"].values() for v in variants.values()
            )
            readable_s = time.perf_counter() - started
        finally:
            server.stop()
    assert stored == total, f"stored {stored} of {total} points"
    print(
        json.dumps(
            {
                "benchmark": "end-to-end ingest (from Task.init until every point is stored)",
                "points": total,
                "stored": stored,
                "import_s": round(figures["import_s"], 3),
                "init_s": round(figures["init_s"], 3),
                "report_loop_s": round(figures["report_loop_s"], 3),
                "flush_s": round(figures["flush_s"], 3),
                "script_total_s": round(figures["total_s"], 3),
                "points_per_s": round(total / figures["total_s"]),
                "floor_loop_s": round(figures["floor_loop_s"], 3),
                "total_over_floor_loop": round(figures["total_s"] / figures["floor_loop_s"], 2),
                "with_interpreter_start_s": round(readable_s, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
