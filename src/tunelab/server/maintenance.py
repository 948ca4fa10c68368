"""Upkeep the server does on its own, in the background of its event loop.

Every few seconds: remove the workers silent past ``worker_timeout`` and fail their running
tasks (``worker lost``). Hourly on SQLite: ``PRAGMA optimize`` so the planner's statistics
follow the data. Each step runs in a thread with its own transaction; an error is logged
and the loop goes on, so upkeep never takes the server down. Several replicas may run it at
once: reaping is a conditional delete and a compare-and-set, so each lost worker is reaped
once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import sqlalchemy as sa

from tunelab.store import workers
from tunelab.store.engine import is_sqlite, refresh_statistics

log = logging.getLogger("tunelab.server.maintenance")

OPTIMIZE_EVERY = 3600.0


def reap_interval(worker_timeout: float) -> float:
    """Often enough that a lost worker is noticed soon after its timeout, never busy."""
    return max(0.5, min(5.0, worker_timeout / 4))


def reap_once(engine: sa.Engine, worker_timeout: float) -> list[str]:
    with engine.begin() as conn:
        failed = workers.reap_lost(conn, worker_timeout)
    if failed:
        log.warning("worker lost: %d running task(s) failed: %s", len(failed), ", ".join(failed))
    return failed


async def run(engine: sa.Engine, worker_timeout: float) -> None:
    """Until cancelled (the app's lifespan ends)."""
    interval = reap_interval(worker_timeout)
    optimized = time.monotonic()
    while True:
        await _step("reaping lost workers", reap_once, engine, worker_timeout)
        if is_sqlite(engine) and time.monotonic() - optimized >= OPTIMIZE_EVERY:
            optimized = time.monotonic()
            await _step("refreshing SQLite statistics", refresh_statistics, engine)
        await asyncio.sleep(interval)


async def _step(what: str, func: Callable[..., object], *args: object) -> None:
    try:
        await asyncio.to_thread(func, *args)
    except Exception:
        log.exception("maintenance: %s failed; trying again later", what)
