"""Workers: register, heartbeat, take the next task (a long poll), leave.

``POST /workers/{id}/next`` waits for work without holding a database connection or a
thread: each claim attempt runs in the threadpool in its own short transaction, and between
attempts the request awaits the in-process ``WorkSignal`` (an enqueue on this process wakes
it at once) or a short re-check interval (an enqueue on another replica is seen within it).
"""

from __future__ import annotations

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
from tunelab.store import workers

router = APIRouter(tags=["workers"])

# How often a waiting poll looks at the store again when nothing woke it: the longest an
# enqueue made through another server replica waits to be noticed.
RECHECK_SECONDS = 0.25


@router.post("/workers")
def register_worker(body: WorkerRegistration, conn: Conn, request: Request) -> dict[str, Any]:
    principal = current_principal(request)
    access.require_worker_id(conn, principal, body.id)
    return workers.register(conn, body.id, body.queues, body.host, user_id=principal.user_id)


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
    deadline = time.monotonic() + body.timeout
    while True:
        round_ = signal.current()  # taken first: a notify during the attempt is not missed
        task = await run_db(request, _take_next, engine, worker_id)
        left = deadline - time.monotonic()
        if task is not None or left <= 0 or await request.is_disconnected():
            return {"task": task}
        await signal.wait(round_, min(left, RECHECK_SECONDS))


def _take_next(engine: sa.Engine, worker_id: str) -> dict[str, Any] | None:
    with engine.begin() as conn:
        return workers.take_next(conn, worker_id)
