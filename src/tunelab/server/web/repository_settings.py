"""A project's "Repository" settings: the git repository it is linked to (its address,
default branch, parameter files and metrics files). Anyone who reads the project sees them;
its owners (and admins) link, change and unlink, by the API's rules
(``server.api.repositories``). No credential appears here: the server's ``[[git]]``
settings hold them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tunelab.domain.access import Principal, Role
from tunelab.domain.path_names import segment
from tunelab.errors import Forbidden
from tunelab.gitops.remote import parse_remote
from tunelab.server import access
from tunelab.server.api.deps import Conn, Settings, Who
from tunelab.server.git_repositories import described, require_may_link
from tunelab.server.web.action_form import Form
from tunelab.server.web.templating import is_htmx, render
from tunelab.server.web.toasts import toast_headers
from tunelab.store import projects, repositories

router = APIRouter(include_in_schema=False)


@router.get("/projects/{project_id}/repository", response_class=HTMLResponse)
def repository_page(project_id: str, request: Request, conn: Conn, who: Who) -> Response:
    return _answer(request, conn, who, project_id)


@router.post("/projects/{project_id}/repository", response_model=None)
def link_repository(
    project_id: str, request: Request, conn: Conn, who: Who, form: Form, settings: Settings
) -> Response:
    access.require_project_id(conn, who, project_id, Role.OWNER)
    remote = parse_remote(form.get("url"))
    require_may_link(who, remote, settings)
    before = repositories.get_repository(conn, project_id)
    repositories.set_repository(
        conn,
        project_id,
        remote.url,
        form.get("default_branch").strip() or "main",
        _lines(form.get("params_files")),
        _lines(form.get("metrics_files")),
    )
    if before is not None and before["url"] != remote.url:
        request.app.state.git_mirrors.remove(project_id)
    return _answer(request, conn, who, project_id, f"Linked to {remote.url}")


@router.post("/projects/{project_id}/repository/unlink", response_model=None)
def unlink_repository(project_id: str, request: Request, conn: Conn, who: Who) -> Response:
    access.require_project_id(conn, who, project_id, Role.OWNER)
    if repositories.delete_repository(conn, project_id):
        request.app.state.git_mirrors.remove(project_id)
    return _answer(request, conn, who, project_id, "Unlinked the repository")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _answer(
    request: Request, conn: sa.Connection, who: Principal, project_id: str, said: str = ""
) -> Response:
    """The settings for an htmx request (with a toast saying ``said``), the page for a plain
    GET, and back to the page after a plain form's post."""
    if request.method == "POST" and not is_htmx(request):
        return RedirectResponse(f"/projects/{segment(project_id)}/repository", status_code=303)
    project = projects.get_project(conn, project_id)
    link = repositories.get_repository(conn, project_id)
    context: dict[str, Any] = {
        "project": project,
        "link": described(link, request.app.state.git_mirrors) if link else None,
        "can_manage": _may_manage(conn, who, project["name"]),
    }
    if not is_htmx(request):
        return render(request, "repository/page.html", context)
    headers = toast_headers(said) if said else None
    return render(request, "repository/_settings.html", context, headers=headers)


def _may_manage(conn: sa.Connection, who: Principal, project_name: str) -> bool:
    try:
        access.require_project(conn, who, project_name, Role.OWNER)
    except Forbidden:
        return False
    return True
