"""The uploads of a task's files that failed: one record per (kind, name), shown on the task
(its header, the experiments table, its Artifacts tab) until that file is stored.

The SDK records one when an upload fails and clears it when an upload of the same name
succeeds (a retry at ``task.flush()``, at the end of the run, or ``tunelab task
retry-uploads ID`` on the machine that holds the file). ``record`` is what registering the
file needs once it is stored (an artifact's type, format, preview; a model's id).

Example::

    record_failure(conn, task_id, kind="artifact", name="features", path="/tmp/f.parquet",
                   host="gpu-3", uri="s3://bucket/run/features.parquet",
                   reason="No module named 's3fs'", record={"type": "dataframe"})
    [f["name"] for f in list_failures(conn, task_id)]     # ["features"]
    clear_failure(conn, task_id, kind="artifact", name="features")
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from tunelab.domain.artifact_names import check_name
from tunelab.errors import InvalidInput
from tunelab.store.artifacts import check_text, lock_outputs, require_id
from tunelab.store.lookup import now
from tunelab.store.schema import task_upload_failures

KINDS = ("artifact", "model")
MAX_PATH_LENGTH = 4096
MAX_HOST_LENGTH = 256
MAX_REASON_LENGTH = 4000
MAX_RECORD_BYTES = 64 * 1024


def record_failure(
    conn: sa.Connection,
    task_id: str,
    *,
    kind: str,
    name: str,
    reason: str,
    path: str = "",
    host: str = "",
    uri: str = "",
    record: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record (or replace) the failed upload ``kind``/``name`` of the task; answers it."""
    row = {
        "task_id": task_id,
        "kind": _check_kind(kind),
        "name": check_name(name),
        "path": check_text(path, "path", MAX_PATH_LENGTH),
        "host": check_text(host, "host", MAX_HOST_LENGTH),
        "uri": check_text(uri, "uri", MAX_PATH_LENGTH),
        # A long traceback's message is cut, not refused: the warning matters more.
        "reason": check_text(reason, "reason", 1 << 20)[:MAX_REASON_LENGTH],
        "record": _check_record(record or {}),
        "created": now(),
    }
    lock_outputs(conn, task_id)
    conn.execute(task_upload_failures.delete().where(_named(task_id, kind, name)))
    conn.execute(task_upload_failures.insert().values(**row))
    return _as_dict(row)


def clear_failure(conn: sa.Connection, task_id: str, *, kind: str, name: str) -> bool:
    """Forget the failed upload ``kind``/``name`` (its file is stored now); False if none."""
    require_id(task_id, "task")
    _check_kind(kind)
    check_name(name)
    done = conn.execute(task_upload_failures.delete().where(_named(task_id, kind, name)))
    return done.rowcount > 0


# Built once (read with every whole task): found compiled by identity, not keyed anew.
_BY_TASK = (
    task_upload_failures.select()
    .where(task_upload_failures.c.task_id == sa.bindparam("task_id"))
    .order_by(task_upload_failures.c.created, task_upload_failures.c.name)
)


def list_failures(conn: sa.Connection, task_id: str) -> list[dict[str, Any]]:
    """The task's failed uploads, oldest first."""
    require_id(task_id, "task")
    rows = conn.execute(_BY_TASK, {"task_id": task_id})
    return [_as_dict(row._mapping) for row in rows]


def failure_counts(conn: sa.Connection, task_ids: Sequence[str]) -> dict[str, int]:
    """``{task id: number of failed uploads}`` for the tasks that have any."""
    if not task_ids:
        return {}
    table = task_upload_failures
    rows = conn.execute(
        sa.select(table.c.task_id, sa.func.count())
        .where(table.c.task_id.in_(list(task_ids)))
        .group_by(table.c.task_id)
    )
    return {task_id: int(count) for task_id, count in rows}


def _named(task_id: str, kind: str, name: str) -> sa.ColumnElement[bool]:
    table = task_upload_failures
    return sa.and_(table.c.task_id == task_id, table.c.kind == kind, table.c.name == name)


def _check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"an upload's kind is one of {', '.join(KINDS)}; got {kind!r}")
    return str(kind)


def _check_record(record: Any) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise InvalidInput("an upload failure's record must be a JSON object")
    try:
        text = json.dumps(dict(record), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise InvalidInput("an upload failure's record must be plain JSON") from None
    if len(text.encode()) > MAX_RECORD_BYTES:
        raise InvalidInput(f"an upload failure's record must be at most {MAX_RECORD_BYTES} bytes")
    return dict(record)


def _as_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "kind": row["kind"],
        "name": row["name"],
        "path": row["path"],
        "host": row["host"],
        "uri": row["uri"],
        "reason": row["reason"],
        "record": dict(row["record"] or {}),
        "created": row["created"],
    }
