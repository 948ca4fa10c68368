"""The CI setup wizard of a project (``/projects/{id}/ci``): on the left the runner's
configuration and the job script, on the right the GitHub Actions workflow and the GitLab CI
jobs they make, written again (an htmx round trip to the render route) as a field changes.
Anyone who reads the project sees it and may try fields; its owners save them, and the
server then starts the saved workflow file for tasks run in CI (``server.ci_dispatch``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tunelab.domain.access import Principal, Role
from tunelab.domain.path_names import segment
from tunelab.errors import Forbidden, InvalidInput
from tunelab.gitops.ci_settings import CLOUDS, CiSettings
from tunelab.gitops.ci_workflow import CLOUD_SECRETS, render_all
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.web.action_form import Form, FormFields
from tunelab.server.web.templating import is_htmx, render
from tunelab.server.web.toasts import toast_headers
from tunelab.store import ci_settings, projects, repositories

router = APIRouter(include_in_schema=False)

RUNNER_CHOICES = (
    ("hosted", "GitHub-hosted / GitLab shared runners"),
    ("self-hosted", "Self-hosted runner (by its labels)"),
    ("cloud", "Cloud runner launched by CML"),
)
_TEXT_FIELDS = ("runner", "cloud", "region", "instance_type", "gpu", "disk_size", "labels",
                "script", "package", "python_version", "workflow_file")  # fmt: skip


@router.get("/projects/{project_id}/ci", response_class=HTMLResponse)
def ci_page(project_id: str, request: Request, conn: Conn, who: Who) -> Response:
    project = projects.get_project(conn, project_id)
    settings = ci_settings.get_ci_settings(conn, project_id) or CiSettings()
    return render(request, "repository/ci_page.html", _context(conn, who, project, settings))


@router.post("/projects/{project_id}/ci/render", response_class=HTMLResponse)
def render_yaml(project_id: str, request: Request, conn: Conn, form: Form) -> Response:
    """The generated files for the posted fields (nothing saved); a bad field shows its
    sentence in their place."""
    projects.get_project(conn, project_id)
    try:
        files, error = render_all(_settings(form)), ""
    except InvalidInput as exc:
        files, error = {}, exc.message
    return render(request, "repository/_ci_yaml.html", {"files": files, "error": error})


@router.post("/projects/{project_id}/ci", response_model=None)
def save_settings(project_id: str, request: Request, conn: Conn, who: Who, form: Form) -> Response:
    access.require_project_id(conn, who, project_id, Role.OWNER)
    settings = ci_settings.set_ci_settings(conn, project_id, _settings(form))
    if not is_htmx(request):
        return RedirectResponse(f"/projects/{segment(project_id)}/ci", status_code=303)
    return render(
        request,
        "repository/_ci_yaml.html",
        {"files": render_all(settings), "error": ""},
        headers=toast_headers(f"Saved: tasks run in CI start {settings.workflow_file}"),
    )


def _settings(form: FormFields) -> CiSettings:
    values: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = form.optional(name)
        if value is not None:
            values[name] = value
    if "runner" in values:
        # The page's whole form, whose unticked boxes are not sent at all.
        values["spot"] = form.checked("spot")
        values["reuse"] = form.checked("reuse")
    return CiSettings.from_dict(values)


def _context(
    conn: sa.Connection, who: Principal, project: dict[str, Any], settings: CiSettings
) -> dict[str, Any]:
    try:
        files, error = render_all(settings), ""
    except InvalidInput as exc:
        files, error = {}, exc.message
    return {
        "project": project,
        "link": repositories.get_repository(conn, project["id"]),
        "settings": settings,
        "files": files,
        "error": error,
        "runners": RUNNER_CHOICES,
        "clouds": CLOUDS,
        "cloud_secrets": CLOUD_SECRETS,
        "can_save": _may_save(conn, who, project["name"]),
    }


def _may_save(conn: sa.Connection, who: Principal, project_name: str) -> bool:
    try:
        access.require_project(conn, who, project_name, Role.OWNER)
    except Forbidden:
        return False
    return True
