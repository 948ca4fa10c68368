"""What the load run measures: request latencies by route kind (from the request logs the
instrumented processes write, and from the read probe), the server's memory over time, and
the machine's load.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

_KINDS = (
    (re.compile(r"^POST /api/v1/tasks/[^/]+/scalars/frame$"), "ingest frames"),
    (re.compile(r"^POST /api/v1/tasks/[^/]+/console$"), "console"),
    (re.compile(r"^POST /api/v1/workers/[^/]+/next$"), "polls (long, up to 5 s)"),
    (re.compile(r"^POST /api/v1/workers/[^/]+/heartbeat$"), "heartbeats"),
    (re.compile(r"^GET "), "reads"),
)


def route_kind(method: str, path: str) -> str:
    request = f"{method} {path}"
    for pattern, kind in _KINDS:
        if pattern.match(request):
            return kind
    return "other writes"


@dataclass(frozen=True)
class Request:
    kind: str
    method: str
    path: str
    status: int  # 0: no answer (the error names the exception)
    client_ms: float
    server_ms: float | None
    error: str = ""

    @property
    def failed(self) -> bool:
        return not 200 <= self.status < 300


def read_request_logs(folder: Path) -> list[Request]:
    requests = []
    for log in sorted(folder.glob("*.tsv")):
        for line in log.read_text().splitlines():
            method, path, status, client_ms, server_ms, error = line.split("\t")
            requests.append(
                Request(
                    route_kind(method, path), method, path, int(status), float(client_ms),
                    float(server_ms) if server_ms else None, error,
                )
            )  # fmt: skip
    return requests


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max by the nearest-rank method (no interpolation between samples)."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]

    return {
        "p50": round(rank(50), 1),
        "p95": round(rank(95), 1),
        "p99": round(rank(99), 1),
        "max": round(ordered[-1], 1),
    }


def latency_table(requests: list[Request]) -> dict[str, dict[str, Any]]:
    """Per route kind: the count, and the server's and the client's latency percentiles."""
    by_kind: dict[str, list[Request]] = defaultdict(list)
    for request in requests:
        by_kind[request.kind].append(request)
    table = {}
    for kind, items in sorted(by_kind.items()):
        answered = [r for r in items if r.status]
        table[kind] = {
            "requests": len(items),
            "server_ms": percentiles([r.server_ms for r in answered if r.server_ms is not None]),
            "client_ms": percentiles([r.client_ms for r in answered]),
        }
    return table


def rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


class _Background(ABC):
    """A sampling loop (``_loop``, which stops once ``_halt`` is set) on a daemon thread."""

    _halt: threading.Event
    _thread: threading.Thread

    def start(self) -> Self:
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        self._thread.join()

    @abstractmethod
    def _loop(self) -> None: ...


@dataclass
class Sampler(_Background):
    """Every ``interval`` seconds: the server's RSS, the fleet's total RSS, the load average."""

    server_pid: int
    fleet_pids: Any  # () -> list[int], the processes alive now
    interval: float = 2.0
    samples: list[dict[str, float]] = field(default_factory=list)

    def start(self) -> Self:
        self._began = time.monotonic()
        return super().start()

    def _loop(self) -> None:
        while not self._halt.is_set():
            server = rss_mb(self.server_pid)
            if server is not None:
                pids = self.fleet_pids()
                fleet = sum(rss_mb(pid) or 0.0 for pid in pids)
                self.samples.append(
                    {
                        "t": round(time.monotonic() - self._began, 1),
                        "server_rss_mb": round(server, 1),
                        "fleet_rss_mb": round(fleet, 1),
                        "fleet_processes": len(pids),
                        "load_1m": os.getloadavg()[0],
                    }
                )
            self._halt.wait(self.interval)


def memory_summary(samples: list[dict[str, float]], steady_from: float) -> dict[str, Any]:
    """Start/peak/end of the server's RSS, and its trend over the steady part (after every
    client has started): a least-squares slope in MB per minute."""
    rss = [s["server_rss_mb"] for s in samples]
    steady = [(s["t"], s["server_rss_mb"]) for s in samples if s["t"] >= steady_from]
    if not steady and samples:
        # On a host so busy that the last client started after the last sample, the steady
        # part is that last sample: its growth is then bounded by the peak's check alone.
        steady = [(samples[-1]["t"], samples[-1]["server_rss_mb"])]
    slope = 0.0
    if len(steady) >= 3:
        mean_t = sum(t for t, _ in steady) / len(steady)
        mean_r = sum(r for _, r in steady) / len(steady)
        var = sum((t - mean_t) ** 2 for t, _ in steady)
        slope = sum((t - mean_t) * (r - mean_r) for t, r in steady) / var * 60 if var else 0.0
    return {
        "samples": len(rss),
        "start_mb": rss[0] if rss else None,
        "steady_start_mb": steady[0][1] if steady else None,
        "peak_mb": max(rss) if rss else None,
        "end_mb": rss[-1] if rss else None,
        "steady_slope_mb_per_min": round(slope, 2),
        "fleet_rss_peak_mb": max((s["fleet_rss_mb"] for s in samples), default=None),
        "fleet_processes_peak": max((s["fleet_processes"] for s in samples), default=None),
        "load_1m_peak": max((s["load_1m"] for s in samples), default=None),
    }


@dataclass
class ReadProbe(_Background):
    """Reads what a person watching the runs would: the task list, a running task's
    (downsampled) scalars, its console tail and the workers; timed like the fleet's requests."""

    api_url: str
    token: str | None = None
    interval: float = 1.0
    requests: list[Request] = field(default_factory=list)

    def _loop(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        with httpx.Client(base_url=self.api_url, headers=headers, timeout=30) as http:
            while not self._halt.is_set():
                # Not by project: the probe starts before the first client creates it.
                found = self._get(http, "/api/v1/tasks", {"status": "running", "page_size": 50})
                items = found.get("items", []) if found else []
                if items:
                    task_id = random.choice(items)["id"]
                    self._get(http, f"/api/v1/tasks/{task_id}/scalars", {"max_points": 2000})
                    self._get(http, f"/api/v1/tasks/{task_id}/console", {"limit": 100})
                self._get(http, "/api/v1/workers", {})
                self._halt.wait(self.interval)

    def _get(self, http: httpx.Client, path: str, params: dict[str, Any]) -> dict[str, Any]:
        began = time.perf_counter()
        try:
            response = http.get(path, params=params)
        except httpx.HTTPError as exc:
            ms = (time.perf_counter() - began) * 1000
            self.requests.append(Request("reads", "GET", path, 0, ms, None, type(exc).__name__))
            return {}
        ms = (time.perf_counter() - began) * 1000
        timing = response.headers.get("server-timing", "")
        server_ms = float(timing.split("dur=", 1)[1]) if "dur=" in timing else None
        self.requests.append(Request("reads", "GET", path, response.status_code, ms, server_ms))
        answer: dict[str, Any] = response.json() if response.status_code == 200 else {}
        return answer
