"""PostgreSQL ``LISTEN``/``NOTIFY``: an enqueue through any server replica wakes the workers'
long polls on every replica at once.

``store.queues.add_entry`` sends a notification on ``WORK_CHANNEL`` inside the enqueue's own
transaction: PostgreSQL delivers it at commit (never for a rollback) to every connection
listening. Each replica keeps one such connection for as long as it serves (``run``, started
by the app's lifespan; it shows as ``tunelab work listener`` in ``pg_stat_activity``) and
turns every notification into a ``WorkSignal.wake`` of the polls serving the queue it names.
Idle polls then cost the database nothing while they wait.

Nothing depends on a notification arriving. A lost connection is made again (after 0.5 s,
then up to 5 s apart) and the polls are woken once, since what was sent meanwhile is gone;
and every ``CHECK_SECONDS`` the listener reads the newest entry's time of each queue, one
small read, and wakes the polls of a queue whose newest entry changed without a
notification, so a notification lost any other way costs seconds, not a poll's whole wait.

Example::

    listener = asyncio.create_task(pg_notify.run(engine, app.state.work_signal))
    ...
    listener.cancel()
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
import sqlalchemy as sa

from tunelab.server.work_signal import WorkSignal
from tunelab.store.queues import WORK_CHANNEL
from tunelab.store.schema import queue_entries, queues

log = logging.getLogger("tunelab.server.pg_notify")

APPLICATION_NAME = "tunelab work listener"
CHECK_SECONDS = 5.0
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)
CONNECT_TIMEOUT = 10

_LATEST_ENQUEUES = (
    f"SELECT q.name, max(e.added) FROM {queue_entries.name} e "
    f"JOIN {queues.name} q ON q.id = e.queue_id GROUP BY q.name"
)


async def run(engine: sa.Engine, signal: WorkSignal, check_every: float = CHECK_SECONDS) -> None:
    """Listen for enqueues on ``engine``'s database until cancelled (the app's lifespan
    ends); never raises otherwise: a failure is logged and the connection made again."""
    failures = 0
    while True:
        try:
            conn = await _connect(engine)
        except Exception as exc:
            failures = await _pause(failures, f"cannot listen for enqueues: {_one_line(exc)}")
            continue
        try:
            await conn.execute(f"LISTEN {WORK_CHANNEL}")
            if failures:
                log.warning("listening for enqueues again")
            failures = 0
            signal.database_listens = True
            signal.wake()  # what was enqueued while nobody listened was not announced
            await _listen(conn, signal, check_every)
        except (psycopg.Error, OSError) as exc:
            problem = f"lost the connection listening for enqueues: {_one_line(exc)}"
        except Exception as exc:
            log.exception("listening for enqueues failed")
            problem = f"listening for enqueues failed: {exc!r}"
        finally:
            signal.database_listens = False
            await conn.close()
        failures = await _pause(failures, problem)


async def _connect(engine: sa.Engine) -> psycopg.AsyncConnection[Any]:
    # The same connection parameters as the engine's pool, with a name an admin can spot.
    args, params = engine.dialect.create_connect_args(engine.url)
    params = {
        "connect_timeout": CONNECT_TIMEOUT,
        **params,
        "application_name": APPLICATION_NAME,
    }
    return await psycopg.AsyncConnection.connect(*args, autocommit=True, **params)


async def _listen(
    conn: psycopg.AsyncConnection[Any], signal: WorkSignal, check_every: float
) -> None:
    seen = await _latest_enqueues(conn)
    while True:
        announced: set[str] = set()
        async for notification in conn.notifies(timeout=check_every):
            signal.wake(notification.payload or None)
            announced.add(notification.payload)
        latest = await _latest_enqueues(conn)
        # A queue whose newest entry changed without a word: its notification was lost.
        for name, added in latest.items():
            if name not in announced and added != seen.get(name):
                signal.wake(name)
        seen = latest


async def _latest_enqueues(conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    """The time of the newest entry of each queue that has any."""
    cursor = await conn.execute(_LATEST_ENQUEUES)
    return dict(await cursor.fetchall())


async def _pause(failures: int, why: str) -> int:
    delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
    log.warning("%s; trying again in %.1f s", why, delay)
    await asyncio.sleep(delay)
    return failures + 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())  # libpq's messages run over several lines
