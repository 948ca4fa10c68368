"""MLflow's experiment routes, on projects: create, get, get-by-name, search, update
(rename), delete and restore.

An experiment is a project (``mapping``). Deleting one archives its runs (the tasks that
may be archived: not queued or running) and restoring it brings them back; the project
stays, listed as active, since Tunelab projects have no deleted state of their own.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Query

from tunelab.domain.access import Principal
from tunelab.errors import Conflict, InvalidInput
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.mlflow import mapping, run_reads
from tunelab.server.mlflow.envelope import already_exists
from tunelab.server.mlflow.messages import Message
from tunelab.server.mlflow.pages import page_offset, page_token
from tunelab.server.mlflow.search_filter import (
    EXPERIMENT_ATTRIBUTES,
    Comparison,
    parse_filter,
    parse_order_by,
)
from tunelab.store import lifecycle
from tunelab.store.lookup import now
from tunelab.store.projects import create_project, ensure_project, project_id_by_name, validate_path
from tunelab.store.schema import projects, tasks

router = APIRouter()
JsonBody = Annotated[dict[str, Any], Body()]

MAX_EXPERIMENTS = 50_000
DEFAULT_EXPERIMENTS = 1_000


@router.post("/experiments/create")
def create_experiment(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    name = message.text("name", required=True)
    path = validate_path(mapping.project_name(name))
    new_root = access.require_create_in(conn, who, path)
    if project_id_by_name(conn, path) is not None:
        raise already_exists(f"Experiment(name={name}) already exists.")
    tags = {tag.text("key"): tag.text("value") for tag in message.messages("tags")}
    project, _ = create_project(conn, path, tags.get(mapping.NOTE, ""))
    if new_root:
        access.grant_new_project(conn, who, new_root)
    return {"experiment_id": mapping.experiment_id_of(project["id"], project["name"])}


@router.get("/experiments/get")
def get_experiment(experiment_id: Annotated[str, Query()], conn: Conn, who: Who) -> dict[str, Any]:
    experiment_id = Message({"experiment_id": experiment_id}).text("experiment_id", required=True)
    if experiment_id == mapping.DEFAULT_EXPERIMENT_ID and run_reads.project_row(conn, "0") is None:
        # MLflow's Default experiment always exists; its project is made by its first run.
        return {"experiment": _unstarted_default()}
    project = run_reads.readable_project(conn, who, experiment_id)
    return {"experiment": mapping.experiment(project)}


@router.get("/experiments/get-by-name")
def get_experiment_by_name(
    experiment_name: Annotated[str, Query()], conn: Conn, who: Who
) -> dict[str, Any]:
    name = Message({"experiment_name": experiment_name}).text("experiment_name", required=True)
    return {"experiment": mapping.experiment(run_reads.project_by_name(conn, who, name))}


@router.post("/experiments/search")
def search_experiments(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """Projects the asker may read, filtered by name (``name = 'x'``, ``name LIKE 'x%'``)."""
    message = Message(body)
    limit = message.int64("max_results") or DEFAULT_EXPERIMENTS
    if not 0 < limit <= MAX_EXPERIMENTS:
        raise InvalidInput(f"max_results must be between 1 and {MAX_EXPERIMENTS}, got {limit}")
    view_type = message.enum("view_type", mapping.VIEW_TYPES, "ACTIVE_ONLY")
    offset = page_offset(message.text("page_token"))
    query = sa.select(projects)
    visible = access.visible_projects(conn, who)
    if visible is not None:
        query = query.where(projects.c.id.in_(visible))
    if view_type == "DELETED_ONLY":
        query = query.where(sa.false())  # a project is never deleted (module docstring)
    for comparison in parse_filter(message.text("filter"), EXPERIMENT_ATTRIBUTES):
        if comparison.entity != "attribute":
            raise InvalidInput(
                "experiments are searched by name, experiment_id, creation_time and "
                f"last_update_time, not by {comparison.entity} {comparison.key!r}"
            )
        query = query.where(_attribute_condition(comparison))
    query = query.order_by(*(_experiment_order(term) for term in message.texts("order_by")))
    rows = conn.execute(query.order_by(projects.c.name).offset(offset).limit(limit + 1)).all()
    found: dict[str, Any] = {
        "experiments": [mapping.experiment(dict(row._mapping)) for row in rows[:limit]]
    }
    if len(rows) > limit:
        found["next_page_token"] = page_token(offset + limit)
    return found


@router.post("/experiments/update")
def update_experiment(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """Rename: the project takes the new name (a project with sub-projects keeps its name)."""
    message = Message(body)
    project = run_reads.readable_project(
        conn, who, message.text("experiment_id", required=True), access.WRITE
    )
    new_name = message.text("new_name")
    if not new_name:
        return {}
    path = validate_path(mapping.project_name(new_name))
    if path == project["name"]:
        return {}
    if project["name"] == mapping.DEFAULT_PROJECT:
        raise InvalidInput("the Default experiment cannot be renamed")
    if project_id_by_name(conn, path) is not None:
        raise already_exists(f"Experiment(name={new_name}) already exists.")
    under = conn.execute(
        sa.select(projects.c.id).where(projects.c.name.startswith(project["name"] + "/"))
    ).first()
    if under is not None:
        raise Conflict(f"project {project['name']!r} has sub-projects: it keeps its name")
    parent = path.rpartition("/")[0]
    if parent:
        access.require_create_in(conn, who, parent)
        ensure_project(conn, parent)
    conn.execute(
        projects.update().where(projects.c.id == project["id"]).values(name=path, last_update=now())
    )
    return {}


@router.post("/experiments/delete")
def delete_experiment(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    _set_archived(body, conn, who, archived=True)
    return {}


@router.post("/experiments/restore")
def restore_experiment(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    _set_archived(body, conn, who, archived=False)
    return {}


def _set_archived(
    body: dict[str, Any], conn: sa.Connection, who: Principal, *, archived: bool
) -> None:
    experiment_id = Message(body).text("experiment_id", required=True)
    project = run_reads.readable_project(conn, who, experiment_id, access.WRITE)
    query = sa.select(tasks.c.id).where(
        tasks.c.project_id == project["id"], tasks.c.archived == (not archived)
    )
    if archived:  # queued and running tasks stay: they must end first
        query = query.where(tasks.c.status.not_in(["queued", "running"]))
    for task_id in conn.execute(query).scalars().all():
        access.require_task(conn, who, task_id, access.WRITE)
        if archived:
            lifecycle.archive(conn, task_id)
        else:
            lifecycle.unarchive(conn, task_id)


_COLUMNS = {
    "name": projects.c.name,
    "experiment_id": projects.c.id,
    "creation_time": projects.c.created,
    "last_update_time": projects.c.last_update,
}


def _attribute_condition(c: Comparison) -> Any:
    column = _COLUMNS[c.key]
    value: Any = c.value
    if c.key == "name" and c.op in ("=", "!="):
        value = mapping.project_name(str(value))
    elif isinstance(value, float):
        value = value / 1000  # milliseconds
    if c.op == "ILIKE":
        return sa.func.lower(column).like(str(value).lower())
    if c.op == "LIKE":
        return column.like(value)
    return {
        "=": column == value,
        "!=": column != value,
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }[c.op]


def _experiment_order(term: str) -> Any:
    key = parse_order_by(term, EXPERIMENT_ATTRIBUTES)
    if key.entity != "attribute":
        raise InvalidInput(f"experiments are ordered by {', '.join(_COLUMNS)}, not {term!r}")
    column = _COLUMNS[key.key]
    return column.asc() if key.ascending else column.desc()


def _unstarted_default() -> dict[str, Any]:
    return mapping.experiment(
        {"id": "0", "name": mapping.DEFAULT_PROJECT, "created": 0.0, "last_update": 0.0}
    )
