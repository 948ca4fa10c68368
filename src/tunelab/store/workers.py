"""Workers: agents that register, heartbeat and take queued tasks, and the reaper of the lost.

Taking the next task is one transaction: lock the first queued entry (``dialect``:
PostgreSQL ``FOR UPDATE SKIP LOCKED``, SQLite's write transaction), set the task running on
this worker (compare-and-set on ``queued``), drop the entry. However many agents poll, each
task goes to exactly one. A worker silent for longer than the timeout is removed and its
running tasks fail with ``worker lost``; one registered again by a new agent process (a
restarted agent keeps its worker id) fails at once the tasks it ran with ``worker restarted``.
Heartbeats are stamped, and silence measured, on the database's clock: server replicas whose
clocks disagree still agree on which worker is silent.

Example::

    register(conn, "gpu1:agent-0", ["gpu", "default"], host="gpu1")
    task = take_next(conn, "gpu1:agent-0")      # a Task now running there, or None
    heartbeat(conn, "gpu1:agent-0", task["id"])  # ids of its tasks asked to stop
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tunelab.domain.launch import read_launch, waiting_text
from tunelab.domain.path_names import SEGMENT_RULE, is_segment_name
from tunelab.domain.task import TaskStatus
from tunelab.errors import InvalidInput, NotFound
from tunelab.store import queues, task_keys
from tunelab.store.dialect import dialect_insert, lock_first_queued
from tunelab.store.lookup import now, visible_only
from tunelab.store.schema import queue_entries, tasks, workers
from tunelab.store.schema import queues as queue_table
from tunelab.store.task_activity import database_now
from tunelab.store.task_status import change_status
from tunelab.store.tasks import get_task

S = TaskStatus
MAX_ID_LENGTH = 256
MAX_HOST_LENGTH = 256
MAX_QUEUES = 100
LOST = "worker lost"
UNREGISTERED = "worker unregistered while running it"
RESTARTED = "worker restarted"
# Well under SQLite's limit on the parameters of one statement.
_SEEN_PER_STATEMENT = 500


def validate_worker_id(worker_id: Any) -> str:
    if not isinstance(worker_id, str) or not worker_id.strip() or len(worker_id) > MAX_ID_LENGTH:
        raise InvalidInput(f"a worker id must be 1 to {MAX_ID_LENGTH} characters")
    if not is_segment_name(worker_id):
        raise InvalidInput(
            f"invalid worker id {worker_id!r}: it appears in URLs, so it is {SEGMENT_RULE}"
        )
    return worker_id


def register(
    conn: sa.Connection,
    worker_id: str,
    queue_names: Sequence[str],
    host: str = "",
    *,
    user_id: str | None = None,
    running: str | None = None,
    jobs: Sequence[str] = (),
) -> dict[str, Any]:
    """Register the worker, or register it again: its queues, in the order it takes from
    them, are created if missing.

    ``running`` is the task the registering agent runs now. An agent that registers again
    while it works (the server had forgotten it) names its task, which goes on; a new agent
    process names none, so whatever still runs under this worker id has lost its process
    (the agent was killed and restarted) and fails with ``worker restarted``. ``jobs``: the
    tasks a launcher registering again runs as scheduler jobs and found again; they go on."""
    validate_worker_id(worker_id)
    if len(queue_names) > MAX_QUEUES:
        raise InvalidInput(f"a worker serves at most {MAX_QUEUES} queues")
    names = list(dict.fromkeys(queue_names))  # duplicates dropped, priority order kept
    for name in names:
        queues.ensure_queue(conn, name)
    if len(host) > MAX_HOST_LENGTH:
        raise InvalidInput(f"host is at most {MAX_HOST_LENGTH} characters")
    _fail_running(conn, [worker_id], RESTARTED, keep=[*jobs, *([running] if running else [])])
    if running is not None and not _runs(conn, worker_id, running):
        running = None
    stamp = database_now(conn)  # heartbeats go by the database's clock, never a replica's
    insert = dialect_insert(conn, workers).values(
        id=worker_id,
        queues=names,
        host=host,
        task_id=running,
        registered=stamp,
        last_heartbeat=stamp,
        user_id=user_id,
    )
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[workers.c.id],
            set_={
                "queues": insert.excluded.queues,
                "host": insert.excluded.host,
                "user_id": insert.excluded.user_id,
                "task_id": running,
                "registered": stamp,
                "last_heartbeat": stamp,
            },
        )
    )
    return get_worker(conn, worker_id)


def ensure_worker(conn: sa.Connection, worker_id: str, user_id: str | None = None) -> None:
    """Register ``worker_id`` serving no queue unless it is registered already."""
    validate_worker_id(worker_id)
    stamp = database_now(conn)
    conn.execute(
        dialect_insert(conn, workers)
        .values(
            id=worker_id,
            queues=[],
            host="",
            registered=stamp,
            last_heartbeat=stamp,
            user_id=user_id,
        )
        .on_conflict_do_nothing(index_elements=[workers.c.id])
    )


def get_worker(conn: sa.Connection, worker_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(workers).where(workers.c.id == worker_id)).first()
    if row is None:
        raise _unknown(worker_id)
    return _as_dict(row)


def list_workers(conn: sa.Connection, visible: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every worker; with ``visible`` (project ids), ``task_id`` names only a task of those
    projects, else it is None (``busy`` still says the worker runs something): workers are
    shared, what they run for another project is not."""
    found = [_as_dict(row) for row in conn.execute(sa.select(workers).order_by(workers.c.id))]
    running = [worker["task_id"] for worker in found if worker["task_id"]]
    if visible is None or not running:
        return found
    shown = set(
        conn.execute(
            sa.select(tasks.c.id).where(
                tasks.c.id.in_(running), *visible_only(tasks.c.project_id, visible)
            )
        ).scalars()
    )
    for worker in found:
        if worker["task_id"] not in shown:
            worker["task_id"] = None
    return found


def launched_jobs(
    conn: sa.Connection, visible: Sequence[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The scheduler jobs launchers run, by worker id: each running task with a ``launch``
    record (of the projects ``visible``, when given) as ``{id, name, launch}``."""
    query = (
        sa.select(tasks.c.id, tasks.c.name, tasks.c.worker_id, tasks.c.launch)
        .where(
            tasks.c.status == S.RUNNING.value,
            tasks.c.worker_id.is_not(None),
            tasks.c.launch.is_not(None),
            *visible_only(tasks.c.project_id, visible),
        )
        .order_by(tasks.c.started, tasks.c.id)
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(query):
        launch = read_launch(row.launch)
        if launch is not None and launch["job_id"]:
            found.setdefault(row.worker_id, []).append(
                {"id": row.id, "name": row.name, "launch": launch}
            )
    return found


def waiting_jobs(conn: sa.Connection, task_ids: Sequence[str]) -> dict[str, str]:
    """``{task id: "pending in Slurm"}`` for those of ``task_ids`` that run as a scheduler
    job still waiting for its scheduler (``Launch.waiting``)."""
    if not task_ids:
        return {}
    rows = conn.execute(
        sa.select(tasks.c.id, tasks.c.launch).where(
            tasks.c.id.in_(list(task_ids)),
            tasks.c.status == S.RUNNING.value,
            tasks.c.launch.is_not(None),
        )
    )
    found = {row.id: waiting_text(read_launch(row.launch)) for row in rows}
    return {task_id: text for task_id, text in found.items() if text}


def _as_dict(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "queues": list(row.queues),
        "task_id": row.task_id,
        "busy": row.task_id is not None,
        "host": row.host,
        "registered": row.registered,
        "last_heartbeat": row.last_heartbeat,
    }


def _unknown(worker_id: str) -> NotFound:
    return NotFound(
        f"no worker {worker_id!r}: register it (again: a worker silent past the server's "
        "worker timeout is removed)"
    )


def heartbeat(conn: sa.Connection, worker_id: str, task_id: str | None = None) -> list[str]:
    """The worker is alive (and runs ``task_id``); answers the ids of its running tasks that
    were asked to stop."""
    touched = conn.execute(
        workers.update()
        .where(workers.c.id == worker_id)
        .values(last_heartbeat=database_now(conn), task_id=task_id)
    )
    if touched.rowcount != 1:
        raise _unknown(worker_id)
    return list(
        conn.execute(
            sa.select(tasks.c.id)
            .where(
                tasks.c.worker_id == worker_id,
                tasks.c.status == S.RUNNING.value,
                tasks.c.stop_requested == sa.true(),
            )
            .order_by(tasks.c.id)
        ).scalars()
    )


def queues_with_work(conn: sa.Connection, worker_id: str) -> tuple[list[str], bool]:
    """The queues the worker serves, and whether any holds a queued task: a read only, so
    a poll that finds nothing writes nothing (``take_next`` is for when there is work)."""
    served = conn.execute(sa.select(workers.c.queues).where(workers.c.id == worker_id)).first()
    if served is None:
        raise _unknown(worker_id)
    names = list(served.queues)
    if not names:
        return names, False
    queued = conn.execute(
        sa.select(queue_entries.c.task_id)
        .join(queue_table, queue_table.c.id == queue_entries.c.queue_id)
        .join(tasks, tasks.c.id == queue_entries.c.task_id)
        .where(queue_table.c.name.in_(names), tasks.c.status == S.QUEUED.value)
        .limit(1)
    ).first()
    return names, queued is not None


def mark_seen(conn: sa.Connection, worker_ids: Sequence[str]) -> None:
    """The workers are alive now (their polls came or wait): one statement for all of them,
    however many polled since the last time."""
    ids = sorted(set(worker_ids))
    stamp = database_now(conn)
    for start in range(0, len(ids), _SEEN_PER_STATEMENT):
        chunk = ids[start : start + _SEEN_PER_STATEMENT]
        conn.execute(workers.update().where(workers.c.id.in_(chunk)).values(last_heartbeat=stamp))


def take_next(
    conn: sa.Connection, worker_id: str, queue_names: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """The first queued task of ``queue_names`` (default: the worker's own queues), taken
    in that order of queues, now running on this worker; None when they are all empty.
    The Task comes with ``task_key``: the key its code runs with (``store.task_keys``),
    reading what the account that enqueued it may.

    Taking counts as a sign of life: the worker's heartbeat moves too (a poll that finds
    nothing is noted by ``mark_seen``, in batches).
    """
    # Touching the worker first also holds its row (PostgreSQL), so a reaper removing it
    # meanwhile either goes first (NotFound here) or waits and sees it alive.
    touched = conn.execute(
        workers.update()
        .where(workers.c.id == worker_id)
        .values(last_heartbeat=database_now(conn))
        .returning(workers.c.queues)
    ).first()
    if touched is None:
        raise _unknown(worker_id)
    names = list(touched.queues) if queue_names is None else list(queue_names)
    for queue_id in _queue_ids(conn, names):
        task_id = lock_first_queued(conn, queue_id)
        if task_id is None:
            continue
        change_status(
            conn, task_id, "start", S.QUEUED, S.RUNNING, worker_id=worker_id, stop_requested=False
        )
        owner = queues.enqueued_by(conn, task_id)
        queues.remove_entry(conn, task_id)
        conn.execute(workers.update().where(workers.c.id == worker_id).values(task_id=task_id))
        key = task_keys.mint(conn, task_id, worker_id, owner)
        return {**get_task(conn, task_id), "task_key": key}
    return None


def _queue_ids(conn: sa.Connection, names: Sequence[str]) -> list[str]:
    """Ids of the queues named, in the order named; names without a queue are skipped."""
    if not names:
        return []
    found = dict(
        conn.execute(
            sa.select(queue_table.c.name, queue_table.c.id).where(queue_table.c.name.in_(names))
        ).all()
    )
    return [found[name] for name in names if name in found]


def unregister(conn: sa.Connection, worker_id: str) -> None:
    """Remove the worker; a task still running on it fails (nobody will report its end)."""
    gone = conn.execute(
        workers.delete().where(workers.c.id == worker_id).returning(workers.c.id)
    ).all()
    if not gone:
        raise _unknown(worker_id)
    _fail_running(conn, [worker_id], UNREGISTERED)


def reap_lost(conn: sa.Connection, timeout: float) -> list[str]:
    """Remove the workers silent for more than ``timeout`` seconds and fail their running
    tasks with ``worker lost``; answers the ids of the tasks failed."""
    # The database's clock, the one heartbeats are stamped with: replicas whose clocks
    # disagree still agree on who is silent.
    cutoff = database_now(conn) - timeout
    # The condition is evaluated again on a row another transaction just touched
    # (PostgreSQL), so a worker that polled or heartbeat meanwhile stays.
    lost = list(
        conn.execute(
            workers.delete().where(workers.c.last_heartbeat < cutoff).returning(workers.c.id)
        ).scalars()
    )
    return _fail_running(conn, lost, LOST)


def _runs(conn: sa.Connection, worker_id: str, task_id: str) -> bool:
    found = conn.execute(
        sa.select(tasks.c.id).where(
            tasks.c.id == task_id,
            tasks.c.worker_id == worker_id,
            tasks.c.status == S.RUNNING.value,
        )
    ).first()
    return found is not None


def _fail_running(
    conn: sa.Connection, worker_ids: list[str], reason: str, keep: Sequence[str] = ()
) -> list[str]:
    """Fail the tasks running on ``worker_ids``, all but ``keep``; their ids."""
    if not worker_ids:
        return []
    stamp = now()
    # One compare-and-set for all of them: only tasks still running on these workers fail;
    # one that ended (or was reset and taken elsewhere) meanwhile is left alone.
    running = sa.and_(tasks.c.status == S.RUNNING.value, tasks.c.worker_id.in_(worker_ids))
    if keep:
        running = sa.and_(running, tasks.c.id.not_in(list(keep)))
    failed = conn.execute(
        tasks.update()
        .where(running)
        .values(
            status=S.FAILED.value,
            status_reason=reason,
            completed=stamp,
            last_update=stamp,
            stop_requested=False,
        )
        .returning(tasks.c.id)
    )
    return sorted(failed.scalars())
