"""Run a coroutine to completion from a test, whatever else the process is running.

Playwright's sync API keeps an event loop running in the main thread for as long as the
session's browser lives, and ``asyncio.run`` refuses to start inside a running loop. Tests
that drive the server's own coroutines therefore run them in a thread of their own, so they
pass in any order, alone or beside the browser tests in the same worker process.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)`` in a fresh thread; its result, or its exception re-raised."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="test-event-loop")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]
