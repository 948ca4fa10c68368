"""The task lifecycle in the store: clone, reset, enqueue, dequeue, stop, reopen, publish,
archive, delete, start.

The rules (which status allows what) are ``tunelab.domain.lifecycle``'s; this module applies
them, each status change a compare-and-set (``store.task_status``): of two concurrent changes
one wins and the other gets a Conflict naming the status it found.

Example::

    draft = clone(conn, task_id, project="vision/tuned")
    enqueue(conn, draft["id"], "gpu")           # the Task, now queued
    reset(conn, task_id).task["status"]         # "draft": scalars and console gone
    reset(conn, task_id).files                  # artifact and model files nothing names now
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tunelab.domain.lifecycle import clone_name, clone_parent, require_action
from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict
from tunelab.store import queues, task_keys
from tunelab.store.artifacts import delete_task_artifacts
from tunelab.store.batches import forget_batches
from tunelab.store.console import delete_console
from tunelab.store.debug_samples import delete_task_samples
from tunelab.store.git_runs import without_results
from tunelab.store.lookup import new_id, now
from tunelab.store.models import delete_output_models, lock_model
from tunelab.store.plots import delete_plots
from tunelab.store.projects import ensure_project
from tunelab.store.scalars import delete_scalars
from tunelab.store.schema import (
    console_lines,
    ingested_batches,
    queue_entries,
    scalar_chunks,
    task_artifacts,
    task_configuration,
    task_metrics,
    task_params,
    task_plots,
    task_properties,
    task_tags,
    task_upload_failures,
    tasks,
    workers,
)
from tunelab.store.stored_files import unreferenced
from tunelab.store.task_activity import database_now
from tunelab.store.task_status import change_status, raise_changed, read_state
from tunelab.store.tasks import get_task
from tunelab.store.workers import ensure_worker

S = TaskStatus
# The inputs a clone copies, row for row; outputs (scalars, console, metrics) stay behind.
_INPUT_TABLES = (task_params, task_configuration, task_properties, task_tags)
# A task's rows in other tables, deleted with it (the foreign keys cascade too; deleting
# explicitly keeps that true on a SQLite connection opened without foreign_keys=ON).
_DEPENDENT_TABLES = (
    *_INPUT_TABLES,
    queue_entries,
    scalar_chunks,
    task_metrics,
    ingested_batches,
    console_lines,
    task_artifacts,
    task_plots,
    task_upload_failures,
)


# --- queue ----------------------------------------------------------------------------------


def enqueue(
    conn: sa.Connection, task_id: str, queue: str = queues.DEFAULT_QUEUE, by: str | None = None
) -> dict[str, Any]:
    """A draft joins the end of ``queue`` (created if missing); ``by`` is the id of the
    account enqueueing it, whose reads the key of its run will have."""
    row = read_state(conn, task_id)
    require_action("enqueue", S(row.status))
    queue_id = queues.ensure_queue(conn, queue)
    change_status(
        conn,
        task_id,
        "enqueue",
        S(row.status),
        S.QUEUED,
        queue_id=queue_id,
        worker_id=None,
        stop_requested=False,
        status_reason="",
    )
    queues.add_entry(conn, queue_id, task_id, by)
    return get_task(conn, task_id)


def dequeue(conn: sa.Connection, task_id: str) -> dict[str, Any]:
    """A queued task leaves its queue and is a draft again."""
    row = read_state(conn, task_id)
    require_action("dequeue", S(row.status))
    change_status(conn, task_id, "dequeue", S.QUEUED, S.DRAFT, queue_id=None)
    queues.remove_entry(conn, task_id)
    return get_task(conn, task_id)


def start(
    conn: sa.Connection,
    task_id: str,
    worker_id: str,
    by: str | None = None,
    draft_owner: str | None = None,
) -> dict[str, Any]:
    """A draft or queued task runs on ``worker_id`` now (``tunelab agent execute --id``).
    The Task comes with ``task_key``, the key its code runs with (``store.task_keys``): it
    reads what the account that enqueued it may, or for a draft, ``draft_owner``.

    An unknown worker is registered (serving no queue, owned by ``by``, the id of the
    account asking), so the reaper watches its heartbeat like any other's.
    """
    row = read_state(conn, task_id)
    status = S(row.status)
    require_action("start", status)
    ensure_worker(conn, worker_id, user_id=by)
    owner = queues.enqueued_by(conn, task_id) if status is S.QUEUED else draft_owner
    change_status(
        conn,
        task_id,
        "start",
        status,
        S.RUNNING,
        worker_id=worker_id,
        stop_requested=False,
        status_reason="",
    )
    queues.remove_entry(conn, task_id)
    conn.execute(workers.update().where(workers.c.id == worker_id).values(task_id=task_id))
    return {**get_task(conn, task_id), "task_key": task_keys.mint(conn, task_id, worker_id, owner)}


def stop(conn: sa.Connection, task_id: str, reason: str = "") -> dict[str, Any]:
    """A queued task is stopped at once (and leaves its queue); a running one is asked to
    stop: its agent sees ``stop_requested`` on its next heartbeat and ends it."""
    row = read_state(conn, task_id)
    status = S(row.status)
    require_action("stop", status)
    if status is S.QUEUED:
        change_status(
            conn,
            task_id,
            "stop",
            S.QUEUED,
            S.STOPPED,
            queue_id=None,
            status_reason=reason or "stopped while queued",
        )
        queues.remove_entry(conn, task_id)
    else:
        asked = conn.execute(
            tasks.update()
            .where(tasks.c.id == task_id, tasks.c.status == S.RUNNING.value)
            .values(
                stop_requested=True,
                # A second stop does not restart the grace period of the first.
                stop_requested_at=sa.case(
                    (tasks.c.stop_requested == sa.true(), tasks.c.stop_requested_at),
                    else_=database_now(conn),
                ),
                status_reason=reason,
                last_update=now(),
            )
        )
        if asked.rowcount != 1:
            raise_changed(conn, task_id, "stop", S.RUNNING)
    return get_task(conn, task_id)


def reopen(conn: sa.Connection, task_id: str) -> dict[str, Any]:
    """An ended task runs again, its run going on where it stopped (MLflow's
    ``start_run(run_id=...)`` on a finished run; ClearML's ``continue_last_task``).

    Completed, failed or stopped becomes running: ``started`` stays, ``completed`` is cleared
    until the run ends again, as are the status reason and a stop request; what the run
    logged stays. No worker runs it (the script that resumed it does); an archived task is
    unarchived first."""
    row = read_state(conn, task_id)
    status = S(row.status)
    require_action("reopen", status)
    if row.archived:
        raise Conflict(
            "cannot reopen an archived task: unarchive it first", {"status": status.value}
        )
    change_status(
        conn,
        task_id,
        "reopen",
        status,
        S.RUNNING,
        completed=None,
        status_reason="",
        stop_requested=False,
        stop_requested_at=None,
        worker_id=None,
    )
    return get_task(conn, task_id)


# --- publish, archive, delete ---------------------------------------------------------------


def publish(conn: sa.Connection, task_id: str) -> dict[str, Any]:
    """A completed or stopped task becomes read-only for good."""
    row = read_state(conn, task_id)
    require_action("publish", S(row.status))
    change_status(conn, task_id, "publish", S(row.status), S.PUBLISHED)
    return get_task(conn, task_id)


def archive(conn: sa.Connection, task_id: str) -> dict[str, Any]:
    """Hide the task from default listings (never a queued or running one)."""
    row = read_state(conn, task_id)
    require_action("archive", S(row.status))
    _set_archived(conn, row, "archive", True)
    return get_task(conn, task_id)


def unarchive(conn: sa.Connection, task_id: str) -> dict[str, Any]:
    row = read_state(conn, task_id)
    _set_archived(conn, row, "unarchive", False)
    return get_task(conn, task_id)


def _set_archived(conn: sa.Connection, row: sa.Row[Any], action: str, archived: bool) -> None:
    # Conditional on the status read: an enqueue racing an archive cannot leave an archived
    # task waiting in a queue.
    updated = conn.execute(
        tasks.update()
        .where(tasks.c.id == row.id, tasks.c.status == row.status)
        .values(archived=archived, last_update=now())
    )
    if updated.rowcount != 1:
        raise_changed(conn, row.id, action, S(row.status))


def delete(conn: sa.Connection, task_id: str) -> list[str]:
    """Delete a draft, or an archived task that is not queued or running; never a published
    one. Its inputs, outputs and queue entry go with it; its children keep their parent id.

    Its output models go too, unless published or some task's input: those stay, with no
    task. Answers the URIs of the files that belonged to the artifacts and models removed
    (and that no record left names), for the caller to delete from storage if asked.
    """
    row = read_state(conn, task_id)
    require_action("delete", S(row.status), archived=bool(row.archived))
    # Compare-and-set on what allowed the delete: the status and the archived flag.
    doomed = sa.and_(
        tasks.c.id == task_id, tasks.c.status == row.status, tasks.c.archived == row.archived
    )
    still = conn.execute(sa.select(tasks.c.id).where(doomed).with_for_update()).first()
    if still is None:
        raise_changed(conn, task_id, "delete", S(row.status))
    files = delete_task_artifacts(conn, task_id)
    files += delete_output_models(conn, task_id, unlink_kept=True)
    files += delete_task_samples(conn, task_id)
    for table in _DEPENDENT_TABLES:
        conn.execute(table.delete().where(table.c.task_id == task_id))
    conn.execute(workers.update().where(workers.c.task_id == task_id).values(task_id=None))
    conn.execute(tasks.delete().where(doomed))
    return unreferenced(conn, files)


# --- clone and reset ------------------------------------------------------------------------


def clone(
    conn: sa.Connection,
    source_id: str,
    *,
    name: str | None = None,
    project: str | None = None,
    comment: str | None = None,
    set_as_parent: bool = False,
) -> dict[str, Any]:
    """A new draft with the source's inputs and none of its outputs.

    Copied: type, execution (code, diff, requirements, docker, output destination), tags,
    hyperparameters, configuration objects, user properties, user, input model, git run
    (without its results). Not copied:
    scalars, console, metrics, artifacts, output models, capture warnings, times, runtime.
    ``project`` (a path, created if missing) defaults to the source's; ``comment`` to the
    source's; the parent follows ``clone_parent``.
    """
    source = read_state(conn, source_id)
    # Locked, so the model cannot be deleted before the clone that uses it is committed.
    input_model_id = source.input_model_id
    if input_model_id is not None and not lock_model(conn, input_model_id):
        input_model_id = None
    stamp = now()
    clone_id = new_id()
    conn.execute(
        tasks.insert().values(
            id=clone_id,
            name=clone_name(source.name, name),
            project_id=ensure_project(conn, project) if project else source.project_id,
            type=source.type,
            status=S.DRAFT.value,
            status_reason="",
            comment=source.comment if comment is None else comment,
            parent_id=clone_parent(source.id, source.parent_id, set_as_parent=set_as_parent),
            user=source.user,
            created=stamp,
            last_update=stamp,
            last_iteration=0,
            archived=False,
            execution=source.execution,
            runtime={},
            git_run=without_results(source.git_run),
            resources=source.resources,
            stop_requested=False,
            input_model_id=input_model_id,
        )
    )
    for table in _INPUT_TABLES:
        _copy_rows(conn, table, source_id, clone_id)
    return get_task(conn, clone_id)


def _copy_rows(conn: sa.Connection, table: sa.Table, source_id: str, clone_id: str) -> None:
    """INSERT .. SELECT: the copy never travels through Python, however many rows."""
    others = [c for c in table.c if c.name != "task_id"]
    conn.execute(
        table.insert().from_select(
            ["task_id", *(c.name for c in others)],
            sa.select(sa.literal(clone_id, tasks.c.id.type), *others).where(
                table.c.task_id == source_id
            ),
        )
    )


@dataclass(frozen=True)
class ResetResult:
    task: dict[str, Any]
    # URIs of the files of the artifacts, output models and debug samples the reset removed
    # (and that no record left names): the caller deletes them from storage when asked to.
    files: list[str]


def reset(conn: sa.Connection, task_id: str) -> ResetResult:
    """Back to draft with the inputs kept and the outputs deleted: scalars, metrics,
    console, plots, debug samples, ingested batch ids, artifacts, capture warnings, git run
    results, times, runtime, worker;
    a queued task leaves its queue. Its output models go too, unless published or some task's
    input: those stay, still naming the task. Refused for a published task, and for a running
    one until it is stopped."""
    row = read_state(conn, task_id)
    status = S(row.status)
    require_action("reset", status)
    change_status(
        conn,
        task_id,
        "reset",
        status,
        S.DRAFT,
        started=None,
        completed=None,
        last_iteration=0,
        status_reason="",
        worker_id=None,
        queue_id=None,
        stop_requested=False,
        runtime={},
        capture_warnings=sa.null(),
        git_run=without_results(row.git_run),
        launch=sa.null(),
    )
    queues.remove_entry(conn, task_id)
    delete_scalars(conn, task_id)
    delete_console(conn, task_id)
    delete_plots(conn, task_id)
    forget_batches(conn, task_id)
    conn.execute(task_upload_failures.delete().where(task_upload_failures.c.task_id == task_id))
    files = delete_task_artifacts(conn, task_id)
    files += delete_output_models(conn, task_id, unlink_kept=False)
    files += delete_task_samples(conn, task_id)
    return ResetResult(task=get_task(conn, task_id), files=unreferenced(conn, files))
