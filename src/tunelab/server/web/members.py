"""A project's members: who has which role on it, granted on it or on a project above it
(a role holds for every project under the one it was granted on).

Anyone who may read the project sees the list; its owners and admins add members, change
their role and remove them. The rules are the API's (``server.api.members``): roles are for
member accounts only, and removing takes away the role granted on this project (one granted
above it stays, and says where it comes from).
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tunelab.domain.access import Principal, Role
from tunelab.domain.path_names import segment
from tunelab.errors import Forbidden
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.web.action_form import Form
from tunelab.server.web.templating import is_htmx, render
from tunelab.server.web.toasts import toast_headers
from tunelab.store import project_roles, projects

router = APIRouter(include_in_schema=False)

ROLES = tuple(role.value for role in Role)


@router.get("/projects/{project_id}/members", response_class=HTMLResponse)
def members_page(project_id: str, request: Request, conn: Conn, who: Who) -> Response:
    return _answer(request, conn, who, project_id)


@router.post("/projects/{project_id}/members", response_model=None)
def set_member(project_id: str, request: Request, conn: Conn, who: Who, form: Form) -> Response:
    """Grant ``role`` to ``user`` on the project, replacing the role granted here before."""
    access.require_project_id(conn, who, project_id, Role.OWNER)
    user = project_roles.member_by_name(conn, form.get("user").strip())
    role = project_roles.parse_role(form.get("role", Role.VIEWER.value))
    project_roles.set_role(conn, project_id, user["id"], role)
    return _answer(request, conn, who, project_id, f"{user['name']} is now {role.value} here")


@router.post("/projects/{project_id}/members/{user_name}/remove", response_model=None)
def remove_member(
    project_id: str, user_name: str, request: Request, conn: Conn, who: Who
) -> Response:
    access.require_project_id(conn, who, project_id, Role.OWNER)
    user = project_roles.member_by_name(conn, user_name)
    project_roles.set_role(conn, project_id, user["id"], None)
    return _answer(request, conn, who, project_id, f"Removed {user_name}'s role on this project")


def _answer(
    request: Request, conn: sa.Connection, who: Principal, project_id: str, said: str = ""
) -> Response:
    """The members list for an htmx request (with a toast saying ``said``), the page for a
    plain GET, and back to the page after a plain form's post."""
    if request.method == "POST" and not is_htmx(request):
        return RedirectResponse(f"/projects/{segment(project_id)}/members", status_code=303)
    project = projects.get_project(conn, project_id)
    found = project_roles.members(conn, project["name"])
    above = {m["granted_on"] for m in found if m["granted_on"] != project["name"]}
    context = {
        "project": project,
        "members": found,
        "granted_ids": {name: projects.project_id_by_name(conn, name) for name in above},
        "can_manage": _may_manage(conn, who, project["name"]),
        "roles": ROLES,
    }
    if not is_htmx(request):
        return render(request, "members/page.html", context)
    headers = toast_headers(said) if said else None
    return render(request, "members/_list.html", context, headers=headers)


def _may_manage(conn: sa.Connection, who: Principal, project_name: str) -> bool:
    try:
        access.require_project(conn, who, project_name, Role.OWNER)
    except Forbidden:
        return False
    return True
