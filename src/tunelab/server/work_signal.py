"""Waking the long polls of ``POST /workers/{id}/next`` when work may have arrived.

An enqueue (or a dequeue, a stop) on this server process calls ``notify`` after its commit,
and every poll waiting here tries its claim again at once. It is only a shortcut: a poll
also re-checks the store every fraction of a second, which is how an enqueue made on
another server replica reaches it, so nothing depends on this in-process state.

Example::

    signal = WorkSignal()
    round_ = signal.current()         # before trying to claim: a notify meanwhile counts
    ... nothing to claim ...
    await signal.wait(round_, timeout=0.25)
"""

from __future__ import annotations

import asyncio
import contextlib


class WorkSignal:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def current(self) -> asyncio.Event:
        """The event of the current round; call from the event loop, before the attempt it
        guards, so a notify during the attempt still wakes the wait after it."""
        self._loop = asyncio.get_running_loop()
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    async def wait(self, round_: asyncio.Event, timeout: float) -> None:
        """Until a notify of ``round_``'s round, or ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(round_.wait(), timeout)

    def notify(self) -> None:
        """Wake every waiting poll. Safe from any thread (routes run in a threadpool)."""
        loop = self._loop
        if loop is None:
            return  # nobody has waited yet
        with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
            loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        # A fresh event for the next round: waiters of this one are woken exactly once.
        event, self._event = self._event, asyncio.Event()
        if event is not None:
            event.set()
