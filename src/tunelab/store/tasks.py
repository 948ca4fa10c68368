"""One task: creating it, reading it whole as the API's ``Task``, changing some of its fields.

Listing many tasks lives in ``task_listing``; the inputs (hyperparameters, configuration,
user properties) in ``task_inputs``; the input model in ``input_model``; artifacts and
models in ``artifacts`` and ``models``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tunelab.domain.git_run import GitRun
from tunelab.domain.launch import Launch, read_launch
from tunelab.domain.lifecycle import (
    Editable,
    require_action,
    require_editable,
    require_status_change,
)
from tunelab.domain.resources import Resources, read_resources
from tunelab.domain.task import (
    Execution,
    TaskStatus,
    TaskType,
)
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store.artifacts import artifacts_by_name
from tunelab.store.capture_warnings import read_warnings
from tunelab.store.git_runs import checked_git_run, read_git_run
from tunelab.store.lookup import new_id, now, visible_only
from tunelab.store.models import input_model, output_models
from tunelab.store.projects import ensure_project, names_by_id, validate_path
from tunelab.store.schema import queues, task_tags, tasks
from tunelab.store.tags import clean_tags
from tunelab.store.task_fields import (
    MAX_USER_LENGTH,
    checked_name,
    checked_resources,
    checked_text,
    checked_time,
    edited_git_run,
    merged_execution,
    merged_runtime,
    status_of,
    type_of,
)
from tunelab.store.task_inputs import (
    InputRows,
    inputs_as_read,
    insert_input_rows,
    new_input_rows,
    read_all_inputs,
)
from tunelab.store.upload_failures import list_failures

# What a TaskSummary shows: everything but the JSON blobs and the input model.
SUMMARY_COLUMNS = tuple(
    c
    for c in tasks.c
    if c.name
    not in (
        "execution",
        "runtime",
        "input_model_id",
        "capture_warnings",
        "git_run",
        "resources",
        "launch",
    )
)

UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "tags",
        "comment",
        "status",
        "status_reason",
        "type",
        "parent",
        "user",
        "started",
        "completed",
        "last_iteration",
        "archived",
        "execution",
        "runtime",
        "git_run",
        "resources",
        "launch",
    }
)

# Reaching one of these stamps ``completed`` (published keeps the time it completed).
_ENDING_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.STOPPED})


@dataclass(frozen=True)
class NewTask:
    """A task checked and ready to write (``prepare_task``): its row, tags and input rows."""

    id: str
    project: str
    row: dict[str, Any]
    tags: list[str]
    inputs: InputRows


# Statements the small writes run on every call, built once: SQLAlchemy finds a statement
# object it has seen compiled by identity, where a new one costs it a cache key first.
_TASK_BY_ID = sa.select(tasks).where(tasks.c.id == sa.bindparam("task_id"))
_TASK_FOR_UPDATE = _TASK_BY_ID.with_for_update()
# RETURNING the row written: the answer is built from it, not from another read.
_UPDATE_IF_STATUS = (
    tasks.update()
    .where(tasks.c.id == sa.bindparam("b_id"), tasks.c.status == sa.bindparam("b_status"))
    .returning(*tasks.c)
)

# What the database fills in a new task's row.
_NEW_ROW_DEFAULTS: dict[str, Any] = {
    "status_reason": "",
    "last_iteration": 0,
    "archived": False,
    "queue_id": None,
    "worker_id": None,
    "last_changed_by": None,
    "stop_requested": False,
}


def create_task(conn: sa.Connection, **fields: Any) -> dict[str, Any]:
    """Create a task (and its project path if missing); answers the new ``Task``.
    Takes ``prepare_task``'s fields.

    The answer is built from what was written, not read back: a new task has no artifacts,
    models or failures yet, and reading it whole cost two thirds of the create."""
    new = prepare_task(conn, **fields)
    project_ids = _write(conn, [new])
    row = {**new.row, **_NEW_ROW_DEFAULTS, "project_id": project_ids[new.project]}
    task = _summary(row, new.project, new.tags, None)
    task["execution"] = row["execution"]
    task["runtime"] = row["runtime"]
    task.update(inputs_as_read(new.inputs))
    task["input_model"] = None
    task["artifacts"] = {}
    task["output_models"] = []
    task["upload_failures"] = []
    task["capture_warnings"], task["capture_warnings_dropped"] = read_warnings(None)
    task["git_run"] = row["git_run"]
    task["resources"] = read_resources(row["resources"])
    task["launch"] = None
    return task


def insert_tasks(conn: sa.Connection, new: Sequence[NewTask]) -> list[str]:
    """Write tasks ``prepare_task`` checked (and their projects if missing); answers their
    ids. The same few statements for one task or a thousand (``POST /tasks/batch``)."""
    _write(conn, new)
    return [task.id for task in new]


def prepare_task(
    conn: sa.Connection,
    *,
    name: str,
    project: str,
    type: str = TaskType.TRAINING,
    status: str = TaskStatus.DRAFT,
    tags: Iterable[str] = (),
    comment: str = "",
    parent: str | None = None,
    user: str = "",
    execution: Mapping[str, Any] | None = None,
    runtime: Mapping[str, Any] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
    user_properties: Mapping[str, Any] | None = None,
    git_run: GitRun | Mapping[str, Any] | None = None,
    resources: Resources | Mapping[str, Any] | None = None,
) -> NewTask:
    """Check a new task's fields (and that its parent exists); writes nothing."""
    state = status_of(status)
    if state == TaskStatus.QUEUED:
        # A queued task waits in a queue: only enqueueing puts it there.
        raise InvalidInput("a task cannot be created queued: create a draft and enqueue it")
    task_id = new_id()
    row: dict[str, Any] = {
        "id": task_id,
        "name": checked_name(name),
        "type": type_of(type).value,
        "status": state.value,
        "comment": checked_text(comment, "comment"),
        "parent_id": parent,
        "user": checked_text(user, "user", MAX_USER_LENGTH),
        "execution": merged_execution({}, execution or {}),
        "runtime": merged_runtime({}, runtime or {}),
        "git_run": checked_git_run(git_run),
        "resources": checked_resources(resources),
    }
    tag_set = clean_tags(tags)
    if parent is not None:
        _check_parent(conn, parent, task_id)
    project = validate_path(project)
    inputs = new_input_rows(
        task_id,
        {
            "hyperparameters": hyperparameters,
            "configuration": configuration,
            "user_properties": user_properties,
        },
    )
    stamp = now()
    row.update(
        created=stamp,
        last_update=stamp,
        started=stamp if state == TaskStatus.RUNNING else None,
        completed=stamp if state in _ENDING_STATUSES else None,
    )
    return NewTask(task_id, project, row, tag_set, inputs)


def _write(conn: sa.Connection, new: Sequence[NewTask]) -> dict[str, str]:
    """Insert the tasks, one statement per table; answers ``{project path: id}``."""
    project_ids = {
        path: ensure_project(conn, path) for path in dict.fromkeys(t.project for t in new)
    }
    # Values as parameters, not ``.values(...)``: the statement is then the same object each
    # time and SQLAlchemy finds it compiled, instead of building a cache key from every value.
    conn.execute(tasks.insert(), [{**t.row, "project_id": project_ids[t.project]} for t in new])
    tag_rows = [{"task_id": t.id, "tag": tag} for t in new for tag in t.tags]
    if tag_rows:
        conn.execute(task_tags.insert(), tag_rows)
    insert_input_rows(conn, [t.inputs for t in new])
    return project_ids


def get_task(conn: sa.Connection, task_id: str) -> dict[str, Any]:
    """The whole ``Task``: its summary, execution, runtime, inputs, artifacts and models."""
    row = conn.execute(_TASK_BY_ID, {"task_id": task_id}).first()
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    return _whole_task(conn, row)


def _whole_task(conn: sa.Connection, row: sa.Row[Any]) -> dict[str, Any]:
    """The ``Task`` of the tasks row ``row``, with what other tables hold of it."""
    task_id: str = row.id
    (task,) = summaries(conn, [row])
    task["execution"] = merged_execution(row.execution, {})
    task["runtime"] = merged_runtime(row.runtime, {})
    task.update(read_all_inputs(conn, task_id))
    task["input_model"] = input_model(conn, row.input_model_id)
    task["artifacts"] = artifacts_by_name(conn, task_id)
    task["output_models"] = output_models(conn, task_id)
    task["upload_failures"] = list_failures(conn, task_id)
    task["capture_warnings"], task["capture_warnings_dropped"] = read_warnings(row.capture_warnings)
    task["git_run"] = read_git_run(row.git_run)
    task["resources"] = read_resources(row.resources)
    task["launch"] = read_launch(row.launch)
    return task


def update_task(
    conn: sa.Connection, task_id: str, changes: Mapping[str, Any], *, by_run: bool = False
) -> dict[str, Any]:
    """Change the fields ``changes`` names; ``execution`` and ``runtime`` keep keys not given.

    The lifecycle rules apply: a status follows ``require_status_change``, ``execution`` is
    editable on a draft (or, with ``by_run``, by the running task's own SDK), ``archived``
    follows the archive rule. The write is a compare-and-set on the status read, so a
    concurrent status change makes this one a Conflict rather than a lost update.
    """
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise InvalidInput(
            f"cannot change {sorted(unknown)}; changeable: {sorted(UPDATABLE_FIELDS)}"
        )
    # FOR UPDATE: the read-merge-write of execution must not interleave with another PATCH.
    row = conn.execute(_TASK_FOR_UPDATE, {"task_id": task_id}).first()
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    stamp = now()
    values = _column_values(conn, row, changes)
    _check_rules(row, values, by_run)
    tag_set = clean_tags(changes["tags"]) if "tags" in changes else None
    if "status" in changes:
        values.update(_status_times(row, values["status"], changes, stamp))
    values["last_update"] = stamp
    # The new values as parameters of a statement built once (compiled once per set of fields).
    written = conn.execute(
        _UPDATE_IF_STATUS, {**values, "b_id": task_id, "b_status": row.status}
    ).first()
    if written is None:
        # Only reachable where FOR UPDATE is not a lock (SQLite serialises whole transactions,
        # so not there either); kept so the write can never land on a status it did not check.
        raise Conflict(f"the task's status changed from {row.status} meanwhile; try again")
    if tag_set is not None:
        conn.execute(task_tags.delete().where(task_tags.c.task_id == task_id))
        _store_tags(conn, task_id, tag_set)
    return _whole_task(conn, written)


def retag(
    conn: sa.Connection, task_id: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> dict[str, Any]:
    """Add and remove tags, keeping the others (allowed in any status). The row is locked
    before the tags are read, so two people tagging at once both keep their tag."""
    found = conn.execute(sa.select(tasks.c.id).where(tasks.c.id == task_id).with_for_update())
    if found.first() is None:
        raise NotFound(f"no task with id {task_id!r}")
    dropped = set(remove)
    kept = [t for t in tags_by_task(conn, [task_id]).get(task_id, []) if t not in dropped]
    return update_task(conn, task_id, {"tags": [*kept, *add]})


def task_names(
    conn: sa.Connection, ids: Collection[str], visible: Sequence[str] | None = None
) -> dict[str, str]:
    """``{id: name}`` of the tasks among ``ids`` that exist (and are in the projects
    ``visible``, when given), in one query."""
    if not ids:
        return {}
    query = sa.select(tasks.c.id, tasks.c.name).where(tasks.c.id.in_(set(ids)))
    query = query.where(*visible_only(tasks.c.project_id, visible))
    return {row.id: row.name for row in conn.execute(query)}


def note_changed_by(conn: sa.Connection, task_id: str, name: str) -> None:
    """Record who made the latest change to a task (an unknown id changes nothing)."""
    conn.execute(tasks.update().where(tasks.c.id == task_id).values(last_changed_by=name))


def _check_rules(row: sa.Row[Any], values: Mapping[str, Any], by_run: bool) -> None:
    current = TaskStatus(row.status)
    if "status" in values:
        require_status_change(current, values["status"])
    stored_execution = Execution.from_dict(row.execution).to_dict()
    if "execution" in values and values["execution"] != stored_execution:
        require_editable(Editable.INPUTS, current, by_run=by_run)
    if "git_run" in values and values["git_run"] != read_git_run(row.git_run):
        require_editable(Editable.INPUTS, current)
    if "resources" in values and read_resources(values["resources"]) != read_resources(
        row.resources
    ):
        require_editable(Editable.INPUTS, current)
    if "name" in values and values["name"] != row.name:
        require_editable(Editable.NAME, current)
    if values.get("archived") and not row.archived:
        require_action("archive", current)


def summaries(conn: sa.Connection, rows: Sequence[sa.Row[Any]]) -> list[dict[str, Any]]:
    """``TaskSummary`` dicts for task rows, with project names, tags and queue names in three
    queries."""
    project_names = names_by_id(conn, {row.project_id for row in rows})
    tags = tags_by_task(conn, [row.id for row in rows])
    queue_names = _queue_names(conn, {row.queue_id for row in rows if row.queue_id})
    return [
        _summary(
            row._mapping,
            project_names[row.project_id],
            tags.get(row.id, []),
            queue_names.get(row.queue_id) if row.queue_id else None,
        )
        for row in rows
    ]


def _summary(
    row: Mapping[Any, Any], project_name: str, tags: list[str], queue_name: str | None
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "project": {"id": row["project_id"], "name": project_name},
        "type": row["type"],
        "status": row["status"],
        "status_reason": row["status_reason"],
        "tags": tags,
        "comment": row["comment"],
        "parent": row["parent_id"],
        "user": row["user"],
        "created": row["created"],
        "started": row["started"],
        "completed": row["completed"],
        "last_update": row["last_update"],
        "last_iteration": row["last_iteration"],
        "archived": bool(row["archived"]),
        "queue": queue_name,
        "worker": row["worker_id"],
        "stop_requested": bool(row["stop_requested"]),
        "last_changed_by": row["last_changed_by"],
    }


def _queue_names(conn: sa.Connection, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    found = conn.execute(sa.select(queues.c.id, queues.c.name).where(queues.c.id.in_(ids)))
    return {queue_id: name for queue_id, name in found}


_TAGS_BY_TASK = (
    sa.select(task_tags.c.task_id, task_tags.c.tag)
    .where(task_tags.c.task_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(task_tags.c.task_id, task_tags.c.tag)
)


def tags_by_task(conn: sa.Connection, task_ids: Sequence[str]) -> dict[str, list[str]]:
    if not task_ids:
        return {}
    found: dict[str, list[str]] = {}
    rows = conn.execute(_TAGS_BY_TASK, {"ids": list(task_ids)})
    for task_id, tag in rows:
        found.setdefault(task_id, []).append(tag)
    return found


def _column_values(
    conn: sa.Connection, row: sa.Row[Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "name":
            values["name"] = checked_name(value)
        elif field == "type":
            values["type"] = type_of(value)
        elif field == "status":
            values["status"] = status_of(value)
        elif field in ("comment", "status_reason"):
            values[field] = checked_text(value, field)
        elif field == "user":
            values["user"] = checked_text(value, "user", MAX_USER_LENGTH)
        elif field == "parent":
            if value is not None:
                _check_parent(conn, value, row.id)
            values["parent_id"] = value
        elif field in ("started", "completed"):
            values[field] = checked_time(value, field)
        elif field == "last_iteration":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidInput(f"last_iteration must be a whole number >= 0, got {value!r}")
            values["last_iteration"] = value
        elif field == "archived":
            if not isinstance(value, bool):
                raise InvalidInput(f"archived must be true or false, got {value!r}")
            values["archived"] = value
        elif field == "execution":
            values["execution"] = merged_execution(row.execution, value)
        elif field == "runtime":
            values["runtime"] = merged_runtime(row.runtime, value)
        elif field == "git_run":
            values["git_run"] = edited_git_run(row.git_run, value)
        elif field == "resources":
            # The fields given change, the others stay (``None`` clears them all).
            kept = read_resources(row.resources) if isinstance(value, Mapping) else {}
            values["resources"] = checked_resources({**kept, **(value or {})})
        elif field == "launch":
            values["launch"] = None if value is None else Launch.from_dict(value).to_dict()
    return values


def _status_times(
    row: sa.Row[Any], status: TaskStatus, changes: Mapping[str, Any], stamp: float
) -> dict[str, float]:
    """``started``/``completed`` a status change implies, unless the change sets them itself."""
    times: dict[str, float] = {}
    if status == TaskStatus.RUNNING and row.started is None and "started" not in changes:
        times["started"] = stamp
    if status in _ENDING_STATUSES and status != row.status and "completed" not in changes:
        times["completed"] = stamp
    return times


def _store_tags(conn: sa.Connection, task_id: str, tag_set: list[str]) -> None:
    if tag_set:
        conn.execute(task_tags.insert(), [{"task_id": task_id, "tag": t} for t in tag_set])


def _check_parent(conn: sa.Connection, parent: Any, task_id: str) -> None:
    if not isinstance(parent, str):
        raise InvalidInput(f"parent must be a task id, got {parent!r}")
    if parent == task_id:
        raise InvalidInput("a task cannot be its own parent")
    found = conn.execute(sa.select(tasks.c.id).where(tasks.c.id == parent)).first()
    if found is None:
        raise InvalidInput(f"no parent task with id {parent!r}")
