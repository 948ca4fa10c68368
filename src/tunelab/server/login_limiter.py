"""Login attempts, rate-limited: after ``MAX_FAILURES`` wrong passwords for one name from one
address within ``WINDOW`` seconds, that pair is refused until the window has passed.

An attempt counts as a failure from the moment it is let in (``begin``), before its password
is checked, until ``succeeded`` clears the pair: so a burst of parallel guesses gets no more
checks than guesses one after another would.

Kept in the server's memory: each replica counts its own (a guess spread over N replicas
gets N times the attempts; still a handful a minute against argon2's cost).
"""

from __future__ import annotations

import threading
import time
from collections import deque

MAX_FAILURES = 5
WINDOW = 300.0
SWEEP_AT = 10_000  # pairs remembered before the stale ones are dropped


class LoginLimiter:
    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def begin(self, name: str, address: str) -> float:
        """0 when ``name`` may try from ``address`` now, the try then counted as a failure
        until ``succeeded``; else how long until it may (and nothing counted)."""
        key = (name.lower(), address)
        with self._lock:
            at = time.monotonic()
            recent = self._recent(key, at)
            if len(recent) >= self.max_failures:
                return max(0.001, recent[0] + self.window - at)
            recent.append(at)
            if len(self._failures) > SWEEP_AT:
                self._sweep(at)
            return 0.0

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name.lower(), address), None)

    def _sweep(self, at: float) -> None:
        # Guesses at ever new names must not grow the table without end.
        stale = [
            k for k, times in self._failures.items() if not times or times[-1] < at - self.window
        ]
        for key in stale:
            del self._failures[key]

    def _recent(self, key: tuple[str, str], at: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] < at - self.window:
            times.popleft()
        return times
