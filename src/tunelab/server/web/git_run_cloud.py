"""The Run form's Cloud and Script tabs: the cloud instance a run asks for, and the SkyPilot
task a cloud launcher (``tunelab launcher --backend cloud``) makes of it.

The Cloud tab's fields (cloud, region, instance type, accelerators like ``A100:2``, disk
size, spot) become the task's ``resources``. The Script tab shows the commands the instance
runs: the SkyPilot task's ``setup`` and ``run`` sections (``tunelab agent execute --id
TASK``, which checks out the commit and runs the form's script in the repository's root).
``/projects/{id}/run/cloud-task`` renders that task again whenever a Cloud field changes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tunelab.domain.resources import Resources
from tunelab.errors import InvalidInput
from tunelab.server import access
from tunelab.server.api.deps import Who
from tunelab.server.db_gate import run_db
from tunelab.server.web.action_form import FormFields
from tunelab.server.web.templating import render
from tunelab.store import projects

router = APIRouter(include_in_schema=False)

FIELDS = ("cloud", "region", "instance_type", "accelerators", "disk_size")
# Where the preview's task id goes: the task has none until the form is submitted.
TASK_PLACEHOLDER = "TASK_ID"
Text = Annotated[str, Query(max_length=128)]


def cloud_resources(values: dict[str, str], spot: bool) -> dict[str, Any]:
    """The Cloud tab's fields as ``resources`` fields (the store checks them)."""
    found: dict[str, Any] = {
        name: values.get(name, "").strip()
        for name in ("cloud", "region", "instance_type", "disk_size")
    }
    accelerators = values.get("accelerators", "").strip()
    if accelerators:
        kind, _, count = accelerators.partition(":")
        if not kind or (count and not count.isdigit()):
            raise InvalidInput(
                f"accelerators must be like 'A100' or 'A100:2', got {accelerators!r}"
            )
        found["gpu_type"], found["gpus"] = kind, int(count or 1)
    found["spot"] = spot
    return {k: v for k, v in found.items() if v not in ("", False)}


def posted_resources(form: FormFields) -> dict[str, Any] | None:
    """The posted Cloud tab as ``resources`` (None when it asks for nothing)."""
    values = {name: form.get(f"cloud_{name}") for name in FIELDS}
    asked = cloud_resources(values, form.checked("cloud_spot"))
    return asked or None


def cloud_task_text(resources: dict[str, Any]) -> str:
    """The SkyPilot task (YAML) a cloud launcher makes of a run asking for ``resources``,
    or why it cannot make one."""
    from tunelab.agent.launched import SCHEDULER_VARIABLE
    from tunelab.launchers.base import JobRequest, LaunchError
    from tunelab.launchers.cloud_task import sky_task, task_yaml

    command = ["tunelab", "agent", "execute", "--work-dir", "~/tunelab", "--id", TASK_PLACEHOLDER]
    env = {
        "TUNELAB_API_URL": "<this server>",
        SCHEDULER_VARIABLE: "cloud",
        "PYTHONUNBUFFERED": "1",
        "TUNELAB_API_TOKEN": "",
    }
    try:
        job = JobRequest(TASK_PLACEHOLDER, "", Resources.from_dict(resources), command, env)
        return task_yaml(sky_task(job))
    except (InvalidInput, LaunchError) as exc:
        return f"# {exc.message}\n"


@router.get("/projects/{project_id}/run/cloud-task", response_class=HTMLResponse)
async def cloud_task_preview(
    project_id: str,
    request: Request,
    who: Who,
    cloud_cloud: Text = "",
    cloud_region: Text = "",
    cloud_instance_type: Text = "",
    cloud_accelerators: Text = "",
    cloud_disk_size: Text = "",
    cloud_spot: Text = "",
) -> HTMLResponse:
    """The Script tab's SkyPilot task for the Cloud tab's values (an htmx fragment)."""

    def check() -> None:
        with request.app.state.engine.begin() as conn:
            project = projects.get_project(conn, project_id)
            access.require_project(conn, who, project["name"], access.READ)

    await run_db(request, check)
    values = {
        "cloud": cloud_cloud,
        "region": cloud_region,
        "instance_type": cloud_instance_type,
        "accelerators": cloud_accelerators,
        "disk_size": cloud_disk_size,
    }
    try:
        text = cloud_task_text(
            cloud_resources(values, cloud_spot.lower() in ("on", "true", "1", "yes"))
        )
    except InvalidInput as exc:
        text = f"# {exc.message}\n"
    return render(request, "git_run/_cloud_task.html", {"cloud_task": text})
