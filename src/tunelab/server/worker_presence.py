"""The workers this server process heard from: idle agents' signs of life, kept in memory
and written to the store in one statement every few seconds.

A poll (``POST /workers/{id}/next``) that finds nothing writes nothing: it is noted here, and
its worker counts as seen for as long as the poll waits. The upkeep loop (``maintenance``)
writes the heartbeat of every worker seen since its last round, then reaps, so a worker
waiting in a poll is never taken for lost, however long the poll. Each replica writes the
workers it serves; heartbeats are stamped on the database's clock, as the reaper judges them.

Example::

    with presence.polling(worker_id):
        ...  # the poll's attempts and waits
    flush(engine, presence)  # from the upkeep loop
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator

import sqlalchemy as sa

from tunelab.store import workers


class WorkerPresence:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # polls note on the event loop, upkeep takes on a thread
        self._waiting: Counter[str] = Counter()
        self._seen: set[str] = set()

    @contextlib.contextmanager
    def polling(self, worker_id: str) -> Iterator[None]:
        """The worker is seen while its poll lasts, and once more after it ends."""
        with self._lock:
            self._waiting[worker_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting[worker_id] -= 1
                if not self._waiting[worker_id]:
                    del self._waiting[worker_id]
                self._seen.add(worker_id)

    def take(self) -> list[str]:
        """The workers seen since the last ``take``, those still waiting included."""
        with self._lock:
            seen = self._seen | set(self._waiting)
            self._seen = set()
        return sorted(seen)


def flush(engine: sa.Engine, presence: WorkerPresence) -> int:
    """Write the heartbeat of the workers seen; how many (no transaction for none)."""
    seen = presence.take()
    if seen:
        with engine.begin() as conn:
            workers.mark_seen(conn, seen)
    return len(seen)
