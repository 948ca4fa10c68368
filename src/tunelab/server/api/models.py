"""The model registry: register, read, list, change, publish, delete.

A published model is read-only except its tags and comment; a model that some task uses as
its input model cannot be deleted (409 naming one such task). ``DELETE`` with
``?delete_file=true`` also deletes the model's file, after the record's deletion has
committed; a file that cannot be deleted is reported in ``failed_files``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status

from tunelab.errors import Forbidden, InvalidInput, NotFound
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.registry_bodies import ModelCreate, ModelReports, ModelUpdate, ModelWeights
from tunelab.server.db_gate import in_transaction
from tunelab.server.file_cleanup import delete_files
from tunelab.server.uri_access import UriPolicy, require_uri
from tunelab.storage import open_file, parse_destination
from tunelab.store import model_listing, model_reports, models
from tunelab.store.model_listing import MAX_PAGE, MAX_PAGE_SIZE, ModelQuery

router = APIRouter(tags=["models"])


@router.post("/models", status_code=status.HTTP_201_CREATED)
def create_model(body: ModelCreate, conn: Conn, who: Who) -> dict[str, Any]:
    new_root = None
    if body.task_id is not None:
        access.require_task(conn, who, body.task_id, access.WRITE)
    if body.project is not None:
        # The project it goes into is checked whatever task it names.
        new_root = access.require_models_in(conn, who, body.project, body.task_id)
    elif body.task_id is None and not who.is_admin:
        raise Forbidden("a model needs a project or a task you may change")
    model = models.create_model(conn, **body.model_dump())
    if new_root:
        access.grant_new_project(conn, who, new_root)
    return model


@router.get("/models")
def list_models(
    conn: Conn,
    who: Who,
    project: Annotated[str | None, Query(max_length=512)] = None,
    include_subprojects: bool = True,
    tag: Annotated[list[str] | None, Query(max_length=100)] = None,
    framework: Annotated[str | None, Query(max_length=128)] = None,
    published: bool | None = None,
    archived: Literal["false", "true", "all"] = "false",
    search: Annotated[str | None, Query(max_length=1024)] = None,
    name: Annotated[str | None, Query(max_length=1024)] = None,
    task_id: Annotated[str | None, Query(max_length=32)] = None,
    order_by: Annotated[str, Query(max_length=64)] = "-created",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> dict[str, Any]:
    query = ModelQuery(
        project=project,
        include_subprojects=include_subprojects,
        tags=tuple(tag or ()),
        framework=framework,
        published=published,
        archived=archived,
        search=search,
        name=name,
        task_id=task_id,
        order_by=order_by,
        page=page,
        page_size=page_size,
        visible=access.visible_projects(conn, who),
    )
    return model_listing.list_models(conn, query)


@router.get("/models/{model_id}")
def get_model(model_id: str, conn: Conn) -> dict[str, Any]:
    return models.get_model(conn, model_id)


@router.patch("/models/{model_id}")
def update_model(model_id: str, body: ModelUpdate, conn: Conn) -> dict[str, Any]:
    return models.update_model(conn, model_id, body.changes())


@router.put("/models/{model_id}/weights")
def register_weights(
    model_id: str, body: ModelWeights, request: Request, conn: Conn, who: Who
) -> dict[str, Any]:
    """Register a file already in storage as the model's weights (nothing is uploaded).

    The caller must be allowed to reference that location as the server would read it
    (``server.uri_access``): a key of the server's own store of a project they may read, or
    a configured object store, where the file must exist. A ``file://`` URI is a file on the
    machine that wrote it: recorded as given, with the size and sha256 that machine measured.
    """
    models.get_model(conn, model_id)  # a missing model is a 404 before the URI is judged
    size, sha256 = body.size, body.sha256
    if parse_destination(body.uri).scheme != "file":
        dest = require_uri(conn, who, body.uri, access.READ, UriPolicy.of(request.app))
        if not dest.key:
            raise InvalidInput(f"{body.uri} names a bucket, not a file")
        try:
            handle, found = open_file(body.uri, request.app.state.storage)
        except NotFound:
            raise NotFound(f"no file to register: nothing is stored at {body.uri}") from None
        handle.close()
        size = found if found is not None else size
    return models.update_model(conn, model_id, {"uri": body.uri, "size": size, "sha256": sha256})


@router.post("/models/{model_id}/reports")
def add_reports(model_id: str, body: ModelReports, conn: Conn) -> dict[str, Any]:
    """Store scalars, single values, tables and line plots on the model (the same kind,
    title, series and iteration again replaces)."""
    stored = model_reports.add_reports(
        conn, model_id, [r.model_dump(exclude_none=True) for r in body.reports]
    )
    return {"stored": stored}


@router.get("/models/{model_id}/reports")
def get_reports(model_id: str, conn: Conn) -> dict[str, Any]:
    return model_reports.get_reports(conn, model_id)


@router.post("/models/{model_id}/publish")
def publish_model(model_id: str, conn: Conn) -> dict[str, Any]:
    return models.publish_model(conn, model_id)


@router.delete("/models/{model_id}")
async def delete_model(
    model_id: str, request: Request, delete_file: bool = False
) -> dict[str, Any]:
    # Its own transaction, committed before any file is touched (deps.Conn would commit
    # only after this function returns).
    files = await in_transaction(request, models.delete_model, model_id)
    cleanup = await delete_files(request, files if delete_file else [])
    return {"deleted": model_id, **cleanup}
