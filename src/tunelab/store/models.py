"""The model registry: models with their weights' URI, labels, tags; published ones frozen.

A model belongs to a project and usually to the task that created it (its output model); a
task may start from one (its input model, ``tasks.input_model_id``). A published model is
read-only except its tags and comment. A model some task starts from cannot be deleted.

Example::

    model = create_model(conn, name="resnet", task_id=task_id, framework="PyTorch",
                         uri="s3://bucket/run/model.pt", labels={"cat": 0, "dog": 1})
    publish_model(conn, model["id"])
    list_models(conn, ModelQuery(project="vision", tags=("best",)))  # in model_listing
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store.artifacts import (
    MAX_URI_LENGTH,
    check_sha256,
    check_size,
    check_text,
    lock_outputs,
    require_id,
)
from tunelab.store.lookup import new_id, now
from tunelab.store.model_reports import delete_reports
from tunelab.store.projects import ensure_project, names_by_id
from tunelab.store.schema import model_tags, models, tasks
from tunelab.store.stored_files import unreferenced
from tunelab.store.tags import clean_tags

DEFAULT_PROJECT = "Default"
MAX_NAME_LENGTH = 1024
MAX_FRAMEWORK_LENGTH = 128
MAX_LABEL_LENGTH = 256
MAX_LABELS = 10_000
_INT64 = 2**63
# Long texts (a model's configuration, a comment) are bounded by the server's body limit.
_UNBOUNDED = 2**62
# What PATCH may change; a published model only its tags, comment and archived flag.
UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "framework",
        "uri",
        "config_text",
        "labels",
        "size",
        "sha256",
        "tags",
        "comment",
        "archived",
    }
)
PUBLISHED_MAY_CHANGE = frozenset({"tags", "comment", "archived"})


def create_model(
    conn: sa.Connection,
    *,
    name: str,
    project: str | None = None,
    task_id: str | None = None,
    framework: str = "",
    uri: str = "",
    config_text: str = "",
    labels: Mapping[str, int] | None = None,
    tags: Iterable[str] = (),
    comment: str = "",
    size: int | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    """Register a model; with ``task_id`` it is that task's output (refused once the task is
    published). ``project`` (a path, created if missing) defaults to the task's, else
    "Default"."""
    values = _column_values(
        {
            "name": name,
            "framework": framework,
            "uri": uri,
            "config_text": config_text,
            "labels": labels or {},
            "comment": comment,
            "size": size,
            "sha256": sha256,
        }
    )
    tag_set = clean_tags(tags)
    project_id = ensure_project(conn, project) if project is not None else None
    if task_id is not None:
        lock_outputs(conn, task_id)
        if project_id is None:
            project_id = conn.execute(
                sa.select(tasks.c.project_id).where(tasks.c.id == task_id)
            ).scalar_one()
    model_id = new_id()
    stamp = now()
    conn.execute(
        models.insert().values(
            id=model_id,
            project_id=project_id or ensure_project(conn, DEFAULT_PROJECT),
            task_id=task_id,
            published=False,
            created=stamp,
            last_update=stamp,
            **values,
        )
    )
    _store_tags(conn, model_id, tag_set)
    return get_model(conn, model_id)


def get_model(conn: sa.Connection, model_id: str) -> dict[str, Any]:
    (model,) = as_dicts(conn, [_require(conn, model_id)])
    return model


def update_model(conn: sa.Connection, model_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change the fields ``changes`` names. A published model takes only tags, comment and
    archived; sending a published model's other fields unchanged is not a change."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise InvalidInput(
            f"cannot change {sorted(unknown)}; changeable: {sorted(UPDATABLE_FIELDS)}"
        )
    values = _column_values({k: v for k, v in changes.items() if k != "tags"})
    tag_set = clean_tags(changes["tags"]) if "tags" in changes else None
    # FOR UPDATE: a publish cannot slip in between the check and the write.
    row = _require(conn, model_id, lock=True)
    if row.published:
        frozen = sorted(
            k for k, v in values.items() if k not in PUBLISHED_MAY_CHANGE and row._mapping[k] != v
        )
        if frozen:
            raise Conflict(
                f"model {row.name!r} is published: it is read-only except its tags and "
                f"comment, and archiving (refused: {', '.join(frozen)})",
                {"published": True},
            )
    conn.execute(models.update().where(models.c.id == model_id).values(last_update=now(), **values))
    if tag_set is not None:
        conn.execute(model_tags.delete().where(model_tags.c.model_id == model_id))
        _store_tags(conn, model_id, tag_set)
    return get_model(conn, model_id)


def publish_model(conn: sa.Connection, model_id: str) -> dict[str, Any]:
    """Make the model read-only for good (publishing a published model changes nothing)."""
    _require(conn, model_id)
    conn.execute(
        models.update()
        .where(models.c.id == model_id, models.c.published == sa.false())
        .values(published=True, last_update=now())
    )
    return get_model(conn, model_id)


def delete_model(conn: sa.Connection, model_id: str) -> list[str]:
    """Delete the model's record; refused while a task starts from it. Answers its file's URI
    when no other record names that file (``stored_files``), else nothing."""
    # The row lock orders this against a concurrent set_input_model of the same model.
    row = _require(conn, model_id, lock=True)
    user = conn.execute(
        sa.select(tasks.c.id, tasks.c.name).where(tasks.c.input_model_id == model_id).limit(1)
    ).first()
    if user is not None:
        raise Conflict(
            f"model {row.name!r} is the input model of task {user.id} ({user.name!r}): "
            "give that task another input model first",
            {"task_id": user.id},
        )
    conn.execute(model_tags.delete().where(model_tags.c.model_id == model_id))
    delete_reports(conn, [model_id])
    conn.execute(models.delete().where(models.c.id == model_id))
    return unreferenced(conn, [row.uri])


def lock_model(conn: sa.Connection, model_id: str) -> bool:
    """Lock the model's row until the transaction ends, so it cannot be deleted meanwhile;
    False when there is no such model.

    Every writer locks a task before a model (a reset locks its task, then its models), so
    callers that hold a task's lock may take this one without risking a deadlock.
    """
    try:
        require_id(model_id, "model")
    except NotFound:
        return False
    found = conn.execute(
        sa.select(models.c.id).where(models.c.id == model_id).with_for_update()
    ).first()
    return found is not None


# --- a task's models ------------------------------------------------------------------------


def input_model(conn: sa.Connection, model_id: str | None) -> dict[str, Any] | None:
    """What a task shows of its input model (None when it has none)."""
    if model_id is None:
        return None
    row = conn.execute(
        sa.select(models.c.id, models.c.name, models.c.uri, models.c.framework).where(
            models.c.id == model_id
        )
    ).first()
    return dict(row._mapping) if row is not None else None


# Built once (read with every whole task): found compiled by identity, not keyed anew.
_OUTPUT_MODELS = (
    sa.select(models.c.id, models.c.name, models.c.uri, models.c.framework, models.c.published)
    .where(models.c.task_id == sa.bindparam("task_id"))
    .order_by(models.c.created.desc(), models.c.id.desc())
)


def output_models(conn: sa.Connection, task_id: str) -> list[dict[str, Any]]:
    """What a task shows of the models it created, newest first."""
    rows = conn.execute(_OUTPUT_MODELS, {"task_id": task_id})
    return [{**row._mapping, "published": bool(row.published)} for row in rows]


def delete_output_models(conn: sa.Connection, task_id: str, *, unlink_kept: bool) -> list[str]:
    """Delete the task's output models that are neither published nor any task's input;
    answers their files' URIs. The kept ones keep their task link unless ``unlink_kept``
    (the task is being deleted)."""
    # Locked first, so a concurrent set_input_model of one of them waits, then finds it gone.
    candidates = conn.execute(
        sa.select(models.c.id, models.c.uri)
        .where(models.c.task_id == task_id, models.c.published == sa.false())
        .with_for_update()
    ).all()
    in_use: set[str] = set()
    if candidates:
        ids = [row.id for row in candidates]
        in_use.update(
            conn.execute(
                sa.select(tasks.c.input_model_id).where(tasks.c.input_model_id.in_(ids))
            ).scalars()
        )
    doomed = [row for row in candidates if row.id not in in_use]
    if doomed:
        doomed_ids = [row.id for row in doomed]
        conn.execute(model_tags.delete().where(model_tags.c.model_id.in_(doomed_ids)))
        delete_reports(conn, doomed_ids)
        conn.execute(models.delete().where(models.c.id.in_(doomed_ids)))
    if unlink_kept:
        # The foreign key does this too; explicit, it holds on any SQLite connection.
        conn.execute(models.update().where(models.c.task_id == task_id).values(task_id=None))
    return [row.uri for row in doomed if row.uri]


# --- rows to dicts --------------------------------------------------------------------------


def as_dicts(conn: sa.Connection, rows: Sequence[sa.Row[Any]]) -> list[dict[str, Any]]:
    """``Model`` dicts for model rows, with project names and tags in two queries."""
    project_names = names_by_id(conn, {row.project_id for row in rows})
    tags: dict[str, list[str]] = {}
    if rows:
        found = conn.execute(
            sa.select(model_tags.c.model_id, model_tags.c.tag)
            .where(model_tags.c.model_id.in_([row.id for row in rows]))
            .order_by(model_tags.c.model_id, model_tags.c.tag)
        )
        for model_id, tag in found:
            tags.setdefault(model_id, []).append(tag)
    return [
        {
            "id": row.id,
            "name": row.name,
            "project": {"id": row.project_id, "name": project_names[row.project_id]},
            "task_id": row.task_id,
            "framework": row.framework,
            "uri": row.uri,
            "config_text": row.config_text,
            "labels": row.labels,
            "tags": tags.get(row.id, []),
            "comment": row.comment,
            "published": bool(row.published),
            "archived": bool(row.archived),
            "size": row.size,
            "sha256": row.sha256,
            "created": row.created,
            "last_update": row.last_update,
        }
        for row in rows
    ]


def _require(conn: sa.Connection, model_id: str, *, lock: bool = False) -> sa.Row[Any]:
    require_id(model_id, "model")
    query = sa.select(models).where(models.c.id == model_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"no model with id {model_id!r}")
    return row


# --- checks ---------------------------------------------------------------------------------


def _column_values(given: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field, value in given.items():
        if field == "name":
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_LENGTH:
                raise InvalidInput(f"a model name must be 1 to {MAX_NAME_LENGTH} characters")
            values["name"] = value
        elif field == "framework":
            values["framework"] = check_text(value, "framework", MAX_FRAMEWORK_LENGTH)
        elif field == "uri":
            values["uri"] = check_text(value, "uri", MAX_URI_LENGTH)
        elif field in ("config_text", "comment"):
            values[field] = check_text(value, field, _UNBOUNDED)
        elif field == "labels":
            values["labels"] = _labels(value)
        elif field == "archived":
            if not isinstance(value, bool):
                raise InvalidInput("archived must be true or false")
            values["archived"] = value
        elif field == "size":
            values["size"] = None if value is None else check_size(value)
        elif field == "sha256":
            values["sha256"] = None if value is None else check_sha256(value)
    return values


def _labels(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise InvalidInput("labels must be an object of {label: whole number}")
    if len(value) > MAX_LABELS:
        raise InvalidInput(f"a model has at most {MAX_LABELS} labels")
    for label, number in value.items():
        if not isinstance(label, str) or not 1 <= len(label) <= MAX_LABEL_LENGTH:
            raise InvalidInput(f"a label must be 1 to {MAX_LABEL_LENGTH} characters")
        if isinstance(number, bool) or not isinstance(number, int) or abs(number) >= _INT64:
            raise InvalidInput(f"label {label!r} must map to a whole number, got {number!r}")
    return dict(value)


def _store_tags(conn: sa.Connection, model_id: str, tag_set: list[str]) -> None:
    if tag_set:
        conn.execute(model_tags.insert(), [{"model_id": model_id, "tag": t} for t in tag_set])
