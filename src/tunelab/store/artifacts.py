"""A task's artifacts: named records of files in object storage (the files live at ``uri``).

An artifact is an output: it can be stored, replaced and deleted in any status but
published. Storing one under a name the task already has replaces it.

Example::

    put_artifact(conn, task_id, "features", type="pandas", format="parquet",
                 uri="s3://bucket/run/features.parquet", size=1024, sha256=digest)
    artifacts_by_name(conn, task_id)["features"]["uri"]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from tunelab.domain.artifact_names import check_name, is_name
from tunelab.domain.lifecycle import Editable, editable_in, require_editable
from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store.lookup import now
from tunelab.store.schema import task_artifacts, tasks
from tunelab.store.stored_files import unreferenced

MAX_KIND_LENGTH = 64  # type and format
MAX_URI_LENGTH = 4096
MAX_PREVIEW_LENGTH = 64 * 1024
MAX_METADATA_BYTES = 64 * 1024
MAX_SIZE = 2**63 - 1
_HEX = frozenset("0123456789abcdef")


def put_artifact(
    conn: sa.Connection,
    task_id: str,
    name: str,
    *,
    type: str,
    format: str,
    uri: str,
    size: int,
    sha256: str,
    preview: str = "",
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Store the artifact ``name`` of the task (replacing one of that name); answers it."""
    row = {
        "task_id": task_id,
        "name": check_name(name),
        "type": check_text(type, "type", MAX_KIND_LENGTH),
        "format": check_text(format, "format", MAX_KIND_LENGTH),
        "uri": check_text(uri, "uri", MAX_URI_LENGTH),
        "size": check_size(size),
        "sha256": check_sha256(sha256, allow_empty=True),
        "preview": check_text(preview, "preview", MAX_PREVIEW_LENGTH),
        "metadata": _metadata(metadata or {}),
        "created": now(),
    }
    lock_outputs(conn, task_id)
    # Replace as delete-then-insert: the same two statements on SQLite and PostgreSQL.
    conn.execute(task_artifacts.delete().where(_named(task_id, name)))
    conn.execute(task_artifacts.insert().values(**row))
    return get_artifact(conn, task_id, name)


def get_artifact(conn: sa.Connection, task_id: str, name: str) -> dict[str, Any]:
    require_id(task_id, "task")
    row = None
    # A name no artifact can have is not looked up (PostgreSQL refuses a NUL in a query).
    if is_name(name):
        row = conn.execute(task_artifacts.select().where(_named(task_id, name))).first()
    if row is None:
        _require_task(conn, task_id)
        raise NotFound(f"task {task_id} has no artifact named {name!r}")
    return _as_dict(row)


def list_artifacts(conn: sa.Connection, task_id: str) -> list[dict[str, Any]]:
    """The task's artifacts by name."""
    _require_task(conn, task_id)
    return list(artifacts_by_name(conn, task_id).values())


# Built once (read with every whole task): found compiled by identity, not keyed anew.
_BY_TASK = (
    task_artifacts.select()
    .where(task_artifacts.c.task_id == sa.bindparam("task_id"))
    .order_by(task_artifacts.c.name)
)


def artifacts_by_name(conn: sa.Connection, task_id: str) -> dict[str, dict[str, Any]]:
    rows = conn.execute(_BY_TASK, {"task_id": task_id})
    return {row.name: _as_dict(row) for row in rows}


def delete_artifact(conn: sa.Connection, task_id: str, name: str) -> list[str]:
    """Delete the artifact's record, not its file. Answers the file's URI when no record
    left names that file (``stored_files``), for the caller to delete if asked."""
    lock_outputs(conn, task_id)
    artifact = get_artifact(conn, task_id, name)
    conn.execute(task_artifacts.delete().where(_named(task_id, name)))
    return unreferenced(conn, [artifact["uri"]])


def delete_task_artifacts(conn: sa.Connection, task_id: str) -> list[str]:
    """Delete every artifact record of the task; answers the URIs of their files."""
    uris = conn.execute(
        sa.select(task_artifacts.c.uri).where(task_artifacts.c.task_id == task_id)
    ).scalars()
    found = [uri for uri in uris if uri]
    conn.execute(task_artifacts.delete().where(task_artifacts.c.task_id == task_id))
    return found


def lock_outputs(conn: sa.Connection, task_id: str) -> None:
    """Move the task's last_update if it may gain or lose outputs, else raise saying why.

    One conditional UPDATE, which also takes the task's row lock: a publish cannot slip in
    between this check and the write.
    """
    require_id(task_id, "task")
    allowed = editable_in(Editable.OUTPUTS)
    touched = conn.execute(
        tasks.update()
        .where(tasks.c.id == task_id, tasks.c.status.in_(sorted(s.value for s in allowed)))
        .values(last_update=now())
    )
    if touched.rowcount == 1:
        return
    status = _require_task(conn, task_id)
    require_editable(Editable.OUTPUTS, TaskStatus(status))
    raise Conflict(f"the task's status changed to {status} meanwhile; try again")


# --- checks shared with the model registry --------------------------------------------------


def require_id(value: str, what: str) -> None:
    """NotFound for what cannot be an id (ids are 32 hex digits), before it reaches SQL:
    PostgreSQL refuses some characters (NUL) outright, which would be a server error."""
    if len(value) != 32 or any(c not in _HEX for c in value):
        raise NotFound(f"no {what} with id {value!r}")


def check_text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(f"{field} is at most {limit} characters")
    return value


def check_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SIZE:
        raise InvalidInput(f"size must be a whole number of bytes >= 0, got {value!r}")
    return value


def check_sha256(value: Any, *, allow_empty: bool = False) -> str:
    """64 hex digits, lower-cased (or "" where a hash may be unknown)."""
    if allow_empty and value == "":
        return ""
    if not isinstance(value, str) or len(value) != 64 or any(c not in _HEX for c in value.lower()):
        raise InvalidInput(f"sha256 must be 64 hexadecimal digits, got {value!r}")
    return value.lower()


def _metadata(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInput("metadata must be an object")
    try:
        # The stored JSON must be valid for PostgreSQL too: no NaN, no infinity.
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise InvalidInput("metadata must be plain JSON without NaN or infinity") from None
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise InvalidInput(f"metadata is at most {MAX_METADATA_BYTES} bytes as JSON")
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def _named(task_id: str, name: str) -> sa.ColumnElement[bool]:
    return sa.and_(task_artifacts.c.task_id == task_id, task_artifacts.c.name == name)


def _require_task(conn: sa.Connection, task_id: str) -> str:
    require_id(task_id, "task")
    status: str | None = conn.execute(
        sa.select(tasks.c.status).where(tasks.c.id == task_id)
    ).scalar_one_or_none()
    if status is None:
        raise NotFound(f"no task with id {task_id!r}")
    return status


def _as_dict(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "name": row.name,
        "type": row.type,
        "format": row.format,
        "uri": row.uri,
        "size": row.size,
        "sha256": row.sha256,
        "preview": row.preview,
        "metadata": row.metadata,
        "created": row.created,
    }
