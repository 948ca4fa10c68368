"""Upkeep the server does on its own, in the background of its event loop.

Every few seconds: note the workers whose polls this process saw (``worker_presence``), then
remove the workers silent past ``worker_timeout`` and fail their running tasks (``worker
lost``); fail the running tasks without a worker (scripts run by hand) that
sent nothing and no ping for ``task_timeout`` (``no activity``); end as stopped the running
tasks whose stop request went unanswered for ``stop_grace``. Hourly on SQLite:
``PRAGMA optimize`` so the planner's statistics follow the data. Every few minutes, beside
the rest: fetch the mirrors of the projects' linked git repositories. Each step runs in a thread
with its own transaction; an error is logged and the loop goes on, so upkeep never takes the
server down. Several replicas may run it at
once: reaping is a conditional delete and a compare-and-set, so each lost worker is reaped
once, and silence is judged on the database's clock, so replicas agree.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

import sqlalchemy as sa

from tunelab.server import worker_presence
from tunelab.server.worker_presence import WorkerPresence
from tunelab.store import task_activity, workers
from tunelab.store.engine import is_sqlite, refresh_statistics

log = logging.getLogger("tunelab.server.maintenance")

OPTIMIZE_EVERY = 3600.0


def reap_interval(*timeouts: float) -> float:
    """Often enough that a lost worker or run is noticed soon after its timeout, never busy."""
    return max(0.5, min(5.0, *(timeout / 4 for timeout in timeouts)))


def reap_once(engine: sa.Engine, worker_timeout: float) -> list[str]:
    with engine.begin() as conn:
        failed = workers.reap_lost(conn, worker_timeout)
    if failed:
        log.warning("worker lost: %d running task(s) failed: %s", len(failed), ", ".join(failed))
    return failed


def end_lost_runs(
    engine: sa.Engine, task_timeout: float, stop_grace: float, uptime: float = math.inf
) -> list[str]:
    """Fail the silent runs without a worker, stop the runs whose stop nobody answered.

    Only once this server has been up for the timeout (or the grace): while it was down,
    runs could neither send nor see a stop request, and must get the time to."""
    failed: list[str] = []
    stopped: list[str] = []
    with engine.begin() as conn:
        if uptime >= task_timeout:
            failed = task_activity.fail_silent(conn, task_timeout)
        if uptime >= stop_grace:
            stopped = task_activity.stop_unanswered(conn, stop_grace)
    if failed:
        log.warning("no activity: %d running task(s) failed: %s", len(failed), ", ".join(failed))
    if stopped:
        log.warning("stop unanswered: %d task(s) stopped: %s", len(stopped), ", ".join(stopped))
    return failed + stopped


async def run(
    engine: sa.Engine,
    worker_timeout: float,
    task_timeout: float = 600.0,
    stop_grace: float = 60.0,
    *,
    sync_repositories: Callable[[], object] | None = None,
    sync_every: float = 300.0,
    presence: WorkerPresence | None = None,
) -> None:
    """Until cancelled (the app's lifespan ends). ``sync_repositories`` fetches the mirrors
    of linked git repositories, every ``sync_every`` seconds, in the background of the rest;
    ``presence``: the workers whose polls this process saw, written before each reaping."""
    interval = reap_interval(worker_timeout, task_timeout, stop_grace)
    optimized = started = time.monotonic()
    syncing: asyncio.Task[None] | None = None
    synced = -math.inf
    try:
        while True:
            due = sync_repositories is not None and time.monotonic() - synced >= sync_every
            # A slow remote must not hold up reaping: the fetches run beside the loop.
            if due and sync_repositories is not None and (syncing is None or syncing.done()):
                synced = time.monotonic()
                syncing = asyncio.create_task(
                    _step("fetching linked repositories", sync_repositories)
                )
            if presence is not None:
                await _step("noting polling workers", worker_presence.flush, engine, presence)
            await _step("reaping lost workers", reap_once, engine, worker_timeout)
            uptime = time.monotonic() - started
            await _step("ending lost runs", end_lost_runs, engine, task_timeout, stop_grace, uptime)
            if is_sqlite(engine) and time.monotonic() - optimized >= OPTIMIZE_EVERY:
                optimized = time.monotonic()
                await _step("refreshing SQLite statistics", refresh_statistics, engine)
            await asyncio.sleep(interval)
    finally:
        if syncing is not None:
            syncing.cancel()


async def _step(what: str, func: Callable[..., object], *args: object) -> None:
    try:
        await asyncio.to_thread(func, *args)
    except Exception:
        log.exception("maintenance: %s failed; trying again later", what)
