"""What MLflow writes on a run, as changes to its task: tags (``mapping.sort_tags``), params
(hyperparameters of section ``MLflow``, never changed once logged, as in MLflow) and metrics
(one scalar batch per request, through the store's batch ingest, from ``metric_columns``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.server.mlflow import mapping
from tunelab.server.mlflow.metric_columns import MetricColumns
from tunelab.store import scalars, task_inputs
from tunelab.store import tasks as task_store
from tunelab.store.schema import task_params, tasks

# MLflow's own limits (``mlflow.utils.validation``).
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000


def check_key(key: str, what: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"a {what} key must be 1 to {MAX_KEY_LENGTH} characters, got {key!r}")
    return key


def set_tags(conn: sa.Connection, task_id: str, tags: Mapping[str, str]) -> None:
    """Apply tags where they belong: task fields, the execution, labels, user properties."""
    for key, value in tags.items():
        check_key(key, "tag")
        if len(value) > MAX_TAG_VALUE_LENGTH:
            raise InvalidInput(f"tag {key!r}: a value is at most {MAX_TAG_VALUE_LENGTH} characters")
    writes = mapping.sort_tags(tags)
    changes: dict[str, Any] = dict(writes.fields)
    properties: dict[str, Any] = {k: {"value": v} for k, v in writes.properties.items()}
    if "parent" in changes and not _exists(conn, changes["parent"]):
        properties[mapping.PARENT] = {"value": changes.pop("parent")}
    if writes.execution:
        status = TaskStatus(_status(conn, task_id))
        if status in (TaskStatus.DRAFT, TaskStatus.RUNNING):
            changes["execution"] = writes.execution
        else:  # an ended run's code is history: kept as the tags they are
            for field, value in writes.execution.items():
                tag = next(t for t, f in mapping.SOURCE_TAGS.items() if f == field)
                properties[tag] = {"value": value}
    if changes:
        task_store.update_task(conn, task_id, changes, by_run=True)
    # A key is a label or a property, never both: the new kind replaces the old.
    properties.update(dict.fromkeys(writes.labels))
    if properties:
        task_inputs.merge_inputs(conn, task_id, "user_properties", properties)
    added, dropped = writes.labels, [k for k, v in properties.items() if v is not None]
    if added or _has_labels(conn, task_id, dropped):
        task_store.retag(conn, task_id, add=added, remove=dropped)


def delete_tag(conn: sa.Connection, task_id: str, key: str) -> None:
    if _has_labels(conn, task_id, [key]):
        task_store.retag(conn, task_id, remove=[key])
        return
    stored = task_inputs.read_inputs(conn, task_id, "user_properties")
    if key not in stored:
        raise NotFound(f"No tag with name: {key} in run with id {task_id}")
    task_inputs.merge_inputs(conn, task_id, "user_properties", {key: None})


def log_params(conn: sa.Connection, task_id: str, params: Mapping[str, str]) -> None:
    """Record params once: logging a key again with another value is refused, as MLflow
    refuses it (a run's inputs do not change under its results)."""
    if not params:
        return
    for key, value in params.items():
        check_key(key, "param")
        if len(value) > MAX_PARAM_VALUE_LENGTH:
            raise InvalidInput(
                f"param {key!r}: a value is at most {MAX_PARAM_VALUE_LENGTH} characters"
            )
    p = task_params.c
    stored = dict(
        conn.execute(
            sa.select(p.name, p.value).where(
                p.task_id == task_id,
                p.section == mapping.PARAM_SECTION,
                p.name.in_(list(params)),
            )
        ).all()
    )
    for key, value in params.items():
        if key in stored and stored[key] != value:
            raise InvalidInput(
                f"Changing param values is not allowed. Param with key='{key}' was already "
                f"logged with value='{stored[key]}' for run ID='{task_id}'. Attempted logging "
                f"new value '{value}'."
            )
    fresh = {
        key: {"value": value, "type": mapping.param_type(value)}
        for key, value in params.items()
        if key not in stored
    }
    if fresh:
        task_inputs.merge_inputs(
            conn, task_id, "hyperparameters", {mapping.PARAM_SECTION: fresh}, by_run=True
        )


def log_metrics(conn: sa.Connection, task_id: str, metrics: MetricColumns) -> None:
    """All points in one scalar batch: one chunk row per series, whatever the count."""
    if not metrics.keys:
        return
    for key in metrics.unique_keys():
        check_key(key, "metric")
    scalars.ingest_batch(conn, task_id, scalars.ScalarBatch(metrics.series()))


def _status(conn: sa.Connection, task_id: str) -> str:
    status = conn.execute(sa.select(tasks.c.status).where(tasks.c.id == task_id)).scalar()
    if status is None:
        raise Conflict(f"run {task_id} is gone")
    return str(status)


def _exists(conn: sa.Connection, task_id: str) -> bool:
    found = conn.execute(sa.select(tasks.c.id).where(tasks.c.id == task_id)).first()
    return found is not None


def _has_labels(conn: sa.Connection, task_id: str, keys: Sequence[str]) -> bool:
    if not keys:
        return False
    labels = task_store.tags_by_task(conn, [task_id]).get(task_id, [])
    return any(key in labels for key in keys)
