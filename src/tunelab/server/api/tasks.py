"""Tasks: create, read, change, list; replace or merge their inputs; set their input model.

Writes of inputs (and of ``execution`` in a PATCH) take ``?force=true`` from the running
task's own SDK: recording what the run connects is allowed while it runs, as editing a
draft is before (``tunelab.domain.lifecycle.require_editable``'s ``by_run``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Body, Query, Request, status

from tunelab.domain.access import Principal
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.registry_bodies import InputModelSet
from tunelab.server.api.task_models import (
    Configuration,
    ConfigurationPatch,
    Hyperparameters,
    HyperparametersPatch,
    TaskCreate,
    TaskUpdate,
    UserProperties,
    UserPropertiesPatch,
)
from tunelab.server.db_gate import in_transaction
from tunelab.store import input_model, task_inputs, task_listing, tasks
from tunelab.store.task_cursor import MAX_CURSOR
from tunelab.store.task_filters import MAX_FILTERS
from tunelab.store.task_listing import MAX_PAGE, MAX_PAGE_SIZE, TaskQuery

router = APIRouter(tags=["tasks"])

# ?force=true: the write comes from the running task's own SDK.
Force = Annotated[bool, Query(description="the running task's own SDK records its inputs")]


# The two writes every run makes (its creation, and the PATCH that ends it) are async and do
# their work in one ``in_transaction`` call, committed before the answer as ``Conn`` does: one
# hand-off to a worker thread per request, where a sync route with ``Conn`` takes four (begin,
# route, FastAPI's answer validation, commit).


@router.post("/tasks", status_code=status.HTTP_201_CREATED)
async def create_task(body: TaskCreate, request: Request, who: Who) -> dict[str, Any]:
    return await in_transaction(request, write_new_task, body, who)


def write_new_task(conn: sa.Connection, body: TaskCreate, who: Principal) -> dict[str, Any]:
    new_root = access.require_create_in(conn, who, body.project)
    if body.parent:
        access.require_task(conn, who, body.parent, access.READ)
    fields = body.model_dump()
    if not who.open_access and who.name:
        # With login on, the task is the key's account's: recorded by the server, not taken
        # from the body. Without login, ``user`` is what the SDK sent (the OS user).
        fields["user"] = who.name
    task = tasks.create_task(conn, **fields)
    if new_root:
        access.grant_new_project(conn, who, new_root)
    return task


@router.get("/tasks")
def list_tasks(
    conn: Conn,
    who: Who,
    project: Annotated[str | None, Query(max_length=512)] = None,
    include_subprojects: bool = True,
    status: Annotated[list[str] | None, Query(max_length=16)] = None,
    type: Annotated[list[str] | None, Query(max_length=16)] = None,
    tag: Annotated[list[str] | None, Query(max_length=100)] = None,
    search: Annotated[str | None, Query(max_length=1024)] = None,
    archived: Literal["false", "true", "all"] = "false",
    order_by: Annotated[str, Query(max_length=2048)] = "-last_update",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    filter: Annotated[
        list[str] | None,
        Query(
            max_length=MAX_FILTERS,
            description="metrics.M/V.last > 0.9, hyperparameters.S/N = adam, "
            "COLUMN between A and B, COLUMN is set, COLUMN is not set",
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR, description="the previous page's next: the page after it"),
    ] = None,
) -> dict[str, Any]:
    query = TaskQuery(
        project=project,
        include_subprojects=include_subprojects,
        statuses=tuple(status or ()),
        types=tuple(type or ()),
        tags=tuple(tag or ()),
        search=search,
        archived=archived,
        order_by=order_by,
        page=page,
        page_size=page_size,
        filters=tuple(filter or ()),
        after=after,
        visible=access.visible_projects(conn, who),
    )
    return task_listing.list_tasks(conn, query)


@router.get("/tasks/{task_id}")
def get_task(task_id: str, conn: Conn) -> dict[str, Any]:
    return tasks.get_task(conn, task_id)


@router.patch("/tasks/{task_id}")
async def update_task(
    task_id: str, body: TaskUpdate, request: Request, who: Who, force: Force = False
) -> dict[str, Any]:
    return await in_transaction(request, write_task_update, task_id, body, who, force)


def write_task_update(
    conn: sa.Connection, task_id: str, body: TaskUpdate, who: Principal, force: bool
) -> dict[str, Any]:
    changes = body.changes()
    access.require_type_change(conn, who, task_id, changes.get("type"))
    if changes.get("parent"):
        access.require_task(conn, who, changes["parent"], access.READ)
    return tasks.update_task(conn, task_id, changes, by_run=force)


@router.put("/tasks/{task_id}/hyperparameters")
def replace_hyperparameters(
    task_id: str, body: Annotated[Hyperparameters, Body()], conn: Conn, force: Force = False
) -> dict[str, Any]:
    return _replace(conn, task_id, "hyperparameters", _plain(body), force)


@router.patch("/tasks/{task_id}/hyperparameters")
def merge_hyperparameters(
    task_id: str, body: Annotated[HyperparametersPatch, Body()], conn: Conn, force: Force = False
) -> dict[str, Any]:
    return _merge(conn, task_id, "hyperparameters", _plain(body), force)


@router.put("/tasks/{task_id}/configuration")
def replace_configuration(
    task_id: str, body: Annotated[Configuration, Body()], conn: Conn, force: Force = False
) -> dict[str, Any]:
    return _replace(conn, task_id, "configuration", _plain(body), force)


@router.patch("/tasks/{task_id}/configuration")
def merge_configuration(
    task_id: str, body: Annotated[ConfigurationPatch, Body()], conn: Conn, force: Force = False
) -> dict[str, Any]:
    return _merge(conn, task_id, "configuration", _plain(body), force)


@router.put("/tasks/{task_id}/user_properties")
def replace_user_properties(
    task_id: str, body: Annotated[UserProperties, Body()], conn: Conn, force: Force = False
) -> dict[str, Any]:
    return _replace(conn, task_id, "user_properties", _plain(body), force)


@router.patch("/tasks/{task_id}/user_properties")
def merge_user_properties(
    task_id: str, body: Annotated[UserPropertiesPatch, Body()], conn: Conn, force: Force = False
) -> dict[str, Any]:
    return _merge(conn, task_id, "user_properties", _plain(body), force)


@router.put("/tasks/{task_id}/input_model")
def set_input_model(
    task_id: str, body: InputModelSet, conn: Conn, who: Who, force: Force = False
) -> dict[str, Any]:
    """The task's input model (``null`` for none): the ``Task``."""
    if body.model_id is not None:
        # The body names it: the gate checked only the task. The task shows its name.
        access.require_model(conn, who, body.model_id, access.READ)
    return input_model.set_input_model(conn, task_id, body.model_id, by_run=force)


def _replace(
    conn: Conn, task_id: str, kind: task_inputs.InputKind, data: dict[str, Any], force: bool
) -> dict[str, Any]:
    return {kind: task_inputs.replace_inputs(conn, task_id, kind, data, by_run=force)}


def _merge(
    conn: Conn, task_id: str, kind: task_inputs.InputKind, data: dict[str, Any], force: bool
) -> dict[str, Any]:
    return {kind: task_inputs.merge_inputs(conn, task_id, kind, data, by_run=force)}


def _plain(value: Any) -> Any:
    """Validated bodies as plain dicts, keeping the ``None`` that deletes an entry."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value
