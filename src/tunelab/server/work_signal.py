"""Waking the long polls of ``POST /workers/{id}/next`` when work may have arrived.

A waiting poll does not look at the store again on its own: it tries its claim when this
signal wakes it. Two things wake it:

- ``notify``, which the enqueue route calls after its commit, naming the queue: on SQLite,
  where the server is the only process writing, that is all it takes;
- ``wake``, which the PostgreSQL listener (``server.pg_notify``) calls for every enqueue
  made through any replica, this one included, naming the queue; while it listens,
  ``notify`` leaves the waking to it, so a poll is not woken twice for one enqueue.

A poll that knows its worker's queues waits for those only: an enqueue into one queue does
not send the agents of every other queue to the store for nothing.

``close`` (the server is stopping) wakes every poll and ends every wait after it at once, so
a long poll never holds up a shutdown.

Example::

    round_ = signal.current(["gpu"])  # before trying to claim: a wake meanwhile counts
    ... nothing to claim ...
    await signal.wait(round_, timeout=left)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

# The key of the polls that wait for any queue (those that do not know their queues yet).
_ANY = ""


class Round:
    """What one poll waits on between two attempts: its queues' events of the moment."""

    def __init__(self, events: list[asyncio.Event]) -> None:
        self.events = events

    def is_set(self) -> bool:
        """Whether a wake came (rather than the wait's timeout)."""
        return any(event.is_set() for event in self.events)


class WorkSignal:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        # Per queue name, the event of its current round: a wake sets it and starts a new
        # one, so the waiters of a round are woken exactly once.
        self._events: dict[str, asyncio.Event] = {}
        # Set by the PostgreSQL listener while its connection listens: every enqueue's
        # commit then reaches ``wake`` from the database.
        self.database_listens = False
        # The server is stopping: polls answer now rather than at their timeout.
        self.closed = False
        self._closing = asyncio.Event()

    def current(self, queues: Sequence[str] | None = None) -> Round:
        """The round of a poll serving ``queues`` (None: any queue); call from the event
        loop, before the attempt it guards, so a wake during the attempt still ends the
        wait after it."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # events belong to one loop: new ones for a new loop
            self._loop, self._events, self._closing = loop, {}, asyncio.Event()
            if self.closed:
                self._closing.set()
        keys = [_ANY] if queues is None else list(queues)
        return Round([self._events.setdefault(key, asyncio.Event()) for key in keys])

    async def wait(self, round_: Round, timeout: float) -> None:
        """Until a wake of ``round_``, or ``timeout`` seconds, or the signal closes."""
        if round_.is_set() or self.closed:
            return
        # A worker serving no queue has no event: only the timeout or a close end its wait.
        events = [*round_.events, self._closing]
        waits = [asyncio.ensure_future(event.wait()) for event in events]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    def notify(self, queue: str | None = None) -> None:
        """Wake the polls serving ``queue`` (None: every poll) after an enqueue committed
        through this process, unless the database tells this process itself. Safe from any
        thread (routes run in a threadpool)."""
        if self.database_listens:
            return
        self._wake_soon(queue)

    def close(self) -> None:
        """The server is stopping: wake every poll, and let none wait again. Safe from any
        thread and from a signal handler."""
        self.closed = True
        loop = self._loop
        if loop is None:
            return  # nobody has waited yet
        with contextlib.suppress(RuntimeError):  # the loop closed already
            loop.call_soon_threadsafe(self._closing.set)

    def _wake_soon(self, queue: str | None) -> None:
        loop = self._loop
        if loop is None:
            return  # nobody has waited yet
        with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
            loop.call_soon_threadsafe(self.wake, queue)

    def wake(self, queue: str | None = None) -> None:
        """Wake the polls serving ``queue`` (None: every poll); from the event loop."""
        if queue is None:
            woken, self._events = list(self._events.values()), {}
        else:
            woken = [e for e in (self._events.pop(k, None) for k in (queue, _ANY)) if e]
        for event in woken:
            event.set()
