"""Who has which role on a project: anyone who reads the project sees the list; its owners
(and admins) grant, change and take away roles. A role holds for the projects under it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tunelab.domain.access import Role
from tunelab.server import access
from tunelab.server.api.account_models import MemberRole
from tunelab.server.api.deps import Conn, Who
from tunelab.store import project_roles, projects

router = APIRouter(tags=["projects"])


@router.get("/projects/{project_id}/members")
def list_members(project_id: str, conn: Conn) -> dict[str, Any]:
    """Everyone with a role on the project, each with the strongest one and the project it
    was granted on (this one or one above it)."""
    project = projects.get_project(conn, project_id)
    return {"items": project_roles.members(conn, project["name"])}


@router.put("/projects/{project_id}/members/{user_name}")
def set_member(
    project_id: str, user_name: str, body: MemberRole, conn: Conn, who: Who
) -> dict[str, Any]:
    access.require_project_id(conn, who, project_id, Role.OWNER)
    user = project_roles.member_by_name(conn, user_name)
    project_roles.set_role(conn, project_id, user["id"], Role(body.role))
    return list_members(project_id, conn)


@router.delete("/projects/{project_id}/members/{user_name}")
def remove_member(project_id: str, user_name: str, conn: Conn, who: Who) -> dict[str, Any]:
    """Takes away the role granted on this project (one granted above it stays)."""
    access.require_project_id(conn, who, project_id, Role.OWNER)
    user = project_roles.member_by_name(conn, user_name)
    project_roles.set_role(conn, project_id, user["id"], None)
    return list_members(project_id, conn)
