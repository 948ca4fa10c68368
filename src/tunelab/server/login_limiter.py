"""Login attempts, rate-limited: after ``MAX_FAILURES`` wrong passwords for one name from one
address within ``WINDOW`` seconds, that pair is refused until the window has passed.

Kept in the server's memory: each replica counts its own (a guess spread over N replicas
gets N times the attempts; still a handful a minute against argon2's cost).
"""

from __future__ import annotations

import threading
import time
from collections import deque

MAX_FAILURES = 5
WINDOW = 300.0


class LoginLimiter:
    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, name: str, address: str) -> float:
        """0 when ``name`` may try from ``address`` now; else how long until it may."""
        key = (name.lower(), address)
        with self._lock:
            recent = self._recent(key, time.monotonic())
            if len(recent) < self.max_failures:
                return 0.0
            return max(0.0, recent[0] + self.window - time.monotonic())

    def failed(self, name: str, address: str) -> None:
        key = (name.lower(), address)
        with self._lock:
            self._recent(key, time.monotonic()).append(time.monotonic())

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name.lower(), address), None)

    def _recent(self, key: tuple[str, str], at: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] < at - self.window:
            times.popleft()
        return times
