"""Waiting for something another process does: poll until it holds, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], timeout: float = 30.0, what: str = "", interval: float = 0.05
) -> T:
    """``condition()``'s first truthy answer; AssertionError naming ``what`` after ``timeout``.

    ``interval``: the pause between tries; longer for a costly condition that would load the
    server it waits on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or condition}")


class _ReadsTasks(Protocol):
    def get_task(self, task_id: str) -> dict[str, Any]: ...


FINAL_STATUSES = frozenset({"completed", "failed", "stopped"})


def final_status(client: _ReadsTasks, task_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """The task once it has ended (completed, failed or stopped), read through ``client``."""
    task: dict[str, Any] = wait_for(
        lambda: (t := client.get_task(task_id))["status"] in FINAL_STATUSES and t,
        timeout,
        f"task {task_id} to end",
    )
    return task
