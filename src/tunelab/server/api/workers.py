"""Workers: register, heartbeat, take the next task (a long poll), leave.

``POST /workers/{id}/next`` waits for work without holding a database connection or a
thread: each claim attempt runs in the threadpool in its own short transaction, and between
attempts the request awaits the ``WorkSignal``, which an enqueue into one of the worker's
queues through this process (or, on PostgreSQL, through any replica) wakes at once. A poll
tries once when it arrives, then only when woken: an idle agent costs the store one short
read per poll, and no write (its sign of life is noted in memory, ``worker_presence``, and
written for all workers at once by the upkeep). The wait ends early when the client goes
away or the server stops. A task passed over because another transaction held its row at
the moment of the wake is taken at the next wake or by the worker's next poll.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response, status

from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.lifecycle_models import Heartbeat, NextRequest, WorkerRegistration
from tunelab.server.authorize import current_principal
from tunelab.server.db_gate import run_db
from tunelab.server.work_signal import WorkSignal
from tunelab.server.worker_presence import WorkerPresence
from tunelab.store import workers
from tunelab.store.engine import read_only

router = APIRouter(tags=["workers"])


@router.post("/workers")
def register_worker(body: WorkerRegistration, conn: Conn, request: Request) -> dict[str, Any]:
    principal = current_principal(request)
    access.require_worker_id(conn, principal, body.id)
    return workers.register(
        conn,
        body.id,
        body.queues,
        body.host,
        user_id=principal.user_id,
        running=body.task_id,
        jobs=body.jobs,
    )


@router.get("/workers")
def list_workers(conn: Conn, who: Who) -> dict[str, Any]:
    """Every worker; ``task_id`` only for a task the account may see (``busy`` either way)."""
    return {"items": workers.list_workers(conn, access.visible_projects(conn, who))}


@router.post("/workers/{worker_id}/heartbeat")
def heartbeat(worker_id: str, body: Heartbeat, conn: Conn) -> dict[str, Any]:
    return {"stop": workers.heartbeat(conn, worker_id, body.task_id)}


@router.delete("/workers/{worker_id}", status_code=status.HTTP_204_NO_CONTENT)
def unregister_worker(worker_id: str, conn: Conn) -> Response:
    workers.unregister(conn, worker_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/workers/{worker_id}/next")
async def next_task(worker_id: str, body: NextRequest, request: Request) -> dict[str, Any]:
    engine: sa.Engine = request.app.state.engine
    signal: WorkSignal = request.app.state.work_signal
    presence: WorkerPresence = request.app.state.worker_presence
    deadline = time.monotonic() + body.timeout
    queues: list[str] | None = None  # any queue wakes the first wait: they are not known yet
    # The client going away (an agent told to stop) ends the wait at once.
    gone = asyncio.ensure_future(_client_gone(request))
    try:
        with presence.polling(worker_id):  # a waiting poll is its worker's sign of life
            while not signal.closed:
                round_ = signal.current(queues)  # first: a wake during the attempt counts
                task, queues = await run_db(request, _attempt, engine, worker_id)
                left = deadline - time.monotonic()
                if task is not None or left <= 0:
                    return {"task": task}
                if not round_.is_set():
                    # From now on only its own queues wake it (taken with no await since
                    # the attempt, so nothing is missed in between).
                    round_ = signal.current(queues)
                    waiting = asyncio.ensure_future(signal.wait(round_, left))
                    await asyncio.wait([waiting, gone], return_when=asyncio.FIRST_COMPLETED)
                    waiting.cancel()
                    # Nothing woke it by the end: the worker's next poll looks again at
                    # once, so a last attempt here would only double an idle agent's cost.
                    if not round_.is_set():
                        return {"task": None}
                # A task taken for an agent that is gone would stay running with nobody
                # to run it.
                if gone.done():
                    return {"task": None}
            return {"task": None}  # the server is stopping
    finally:
        gone.cancel()


async def _client_gone(request: Request) -> None:
    """Returns once the client has closed the connection (the body is read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _attempt(engine: sa.Engine, worker_id: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The task taken, or None and the queues the worker serves (for its next wait).

    A look first, in a transaction that reads only and ends without a commit: a poll that
    finds nothing writes nothing. Only when there is work does a write transaction claim it.
    """
    with read_only(engine) as conn:
        served, work = workers.queues_with_work(conn, worker_id)
    if not work:
        return None, served
    with engine.begin() as conn:
        task = workers.take_next(conn, worker_id)
        if task is not None:
            return task, []
        # Another worker was quicker: wait for the next wake.
        served = workers.get_worker(conn, worker_id)["queues"]
        return None, served
