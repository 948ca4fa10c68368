"""A project's CI setup: the wizard's saved fields, and the GitHub Actions and GitLab CI
files they make (``gitops.ci_workflow``). Anyone who reads the project reads the saved
fields; its owners save them (as they link the repository); rendering writes nothing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import Field, StringConstraints

from tunelab.domain.access import Role
from tunelab.gitops.ci_settings import MAX_LABELS, MAX_SCRIPT, CiSettings
from tunelab.gitops.ci_workflow import render_all
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.task_models import _Body
from tunelab.store import ci_settings, projects

router = APIRouter(tags=["projects"])

Word = Annotated[str, StringConstraints(max_length=100)]


class CiSettingsBody(_Body):
    """The wizard's fields; a missing one keeps its default."""

    runner: Literal["hosted", "self-hosted", "cloud"] = "hosted"
    cloud: Literal["aws", "gcp", "azure", "kubernetes"] = "aws"
    region: Word = "us-west"
    instance_type: Word = "m"
    gpu: Word = ""
    spot: bool = False
    disk_size: Annotated[int, Field(ge=1, le=65_536)] = 100
    reuse: bool = True
    labels: Annotated[list[Word], Field(max_length=MAX_LABELS)] = ["tunelab"]
    script: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SCRIPT)] = (
        CiSettings().script
    )
    package: Annotated[str, StringConstraints(min_length=1, max_length=500)] = "tunelab"
    python_version: Annotated[str, StringConstraints(max_length=10)] = "3.12"
    workflow_file: Word = "tunelab.yml"

    def checked(self) -> CiSettings:
        return CiSettings.from_dict(self.model_dump())


@router.get("/projects/{project_id}/ci-settings")
def get_ci_settings(project_id: str, conn: Conn) -> dict[str, Any]:
    """The saved fields (``saved`` false: never saved, the defaults)."""
    projects.get_project(conn, project_id)
    found = ci_settings.get_ci_settings(conn, project_id)
    return {"saved": found is not None, "settings": (found or CiSettings()).to_dict()}


@router.put("/projects/{project_id}/ci-settings")
def save_ci_settings(project_id: str, body: CiSettingsBody, conn: Conn, who: Who) -> dict[str, Any]:
    """Save the fields on the project's linked repository (its owners; 404 when none is
    linked): the server starts the saved workflow file for tasks run in CI."""
    access.require_project_id(conn, who, project_id, Role.OWNER)
    saved = ci_settings.set_ci_settings(conn, project_id, body.checked())
    return {"saved": True, "settings": saved.to_dict()}


@router.post("/projects/{project_id}/ci-workflow")
def render_ci_workflow(project_id: str, body: CiSettingsBody, conn: Conn) -> dict[str, str]:
    """The GitHub Actions workflow and the GitLab CI jobs for these fields (nothing saved)."""
    projects.get_project(conn, project_id)
    return render_all(body.checked())
