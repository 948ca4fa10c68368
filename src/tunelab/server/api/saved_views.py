"""A project's saved views (named experiments-table layouts): anyone who reads the project
lists and opens them, its editors save, rename, change and delete them (the gate checks
both by the path's project)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import Field, StringConstraints

from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.task_models import _Body
from tunelab.store import projects, saved_views
from tunelab.store.task_columns import MAX_COLUMNS
from tunelab.store.task_filters import MAX_FILTER_TEXT, MAX_FILTERS

router = APIRouter(tags=["projects"])

ViewName = Annotated[str, StringConstraints(min_length=1, max_length=saved_views.MAX_NAME)]
Text = Annotated[str, StringConstraints(max_length=MAX_FILTER_TEXT)]


class ViewLayout(_Body):
    cols: Annotated[list[Text], Field(max_length=MAX_COLUMNS)] = []
    sort: Text = saved_views.DEFAULT_SORT
    filters: Annotated[list[Text], Field(max_length=MAX_FILTERS)] = []


class ViewCreate(_Body):
    name: ViewName
    layout: ViewLayout


class ViewUpdate(_Body):
    name: ViewName | None = None
    layout: ViewLayout | None = None


@router.get("/projects/{project_id}/views")
def list_views(project_id: str, conn: Conn) -> dict[str, Any]:
    projects.get_project(conn, project_id)
    return {"items": saved_views.list_views(conn, project_id)}


@router.post("/projects/{project_id}/views", status_code=status.HTTP_201_CREATED)
def create_view(project_id: str, body: ViewCreate, conn: Conn, who: Who) -> dict[str, Any]:
    # The store refuses a project that does not exist (404), as it does for the page.
    layout = body.layout.model_dump()
    return saved_views.create_view(conn, project_id, body.name, layout, who.name or None)


@router.get("/projects/{project_id}/views/{view_id}")
def get_view(project_id: str, view_id: str, conn: Conn) -> dict[str, Any]:
    return saved_views.get_view(conn, project_id, view_id)


@router.patch("/projects/{project_id}/views/{view_id}")
def update_view(project_id: str, view_id: str, body: ViewUpdate, conn: Conn) -> dict[str, Any]:
    layout = body.layout.model_dump() if body.layout is not None else None
    return saved_views.update_view(conn, project_id, view_id, name=body.name, layout=layout)


@router.delete("/projects/{project_id}/views/{view_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_view(project_id: str, view_id: str, conn: Conn) -> Response:
    saved_views.delete_view(conn, project_id, view_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
