"""Projects: create (or find) by path, list, read, describe."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.task_models import ProjectCreate, ProjectUpdate
from tunelab.store import projects

router = APIRouter(tags=["projects"])


@router.post("/projects", status_code=status.HTTP_201_CREATED)
def create_project(body: ProjectCreate, conn: Conn, response: Response, who: Who) -> dict[str, Any]:
    new_root = access.require_create_in(conn, who, body.name)
    project, created = projects.create_project(conn, body.name, body.description)
    if new_root:
        access.grant_new_project(conn, who, new_root)
    if not created:
        response.status_code = status.HTTP_200_OK
    return project


@router.get("/projects")
def list_projects(
    conn: Conn, who: Who, parent: Annotated[str | None, Query(max_length=512)] = None
) -> dict[str, Any]:
    visible = access.visible_projects(conn, who)
    return {"items": projects.list_projects(conn, parent, visible=visible)}


@router.get("/projects/{project_id}")
def get_project(project_id: str, conn: Conn) -> dict[str, Any]:
    return projects.get_project(conn, project_id)


@router.patch("/projects/{project_id}")
def update_project(project_id: str, body: ProjectUpdate, conn: Conn) -> dict[str, Any]:
    return projects.update_project(conn, project_id, description=body.description)
