"""The Run form's Cloud and Script tabs: the cloud instance a run asks for, and the SkyPilot
task a cloud launcher (``tunelab launcher --backend cloud``) makes of it.

The Cloud tab's fields (cloud, region, instance type, accelerators like ``A100:2``, disk
size, spot) and the compute fields by "Where it runs" (GPUs, GPU type, CPUs, memory, time
limit) become the task's ``resources``, parsed as the Execution tab parses them
(``domain.resources.from_form``). Accelerators are GPUs and GPU type written SkyPilot's way
(``TYPE:COUNT``): either may be given, and both must agree. The Script tab shows the
commands the instance runs: the SkyPilot task's ``setup`` and ``run`` sections (``tunelab
agent execute --id TASK``, which checks out the commit and runs the form's script in the
repository's root).
``/projects/{id}/run/cloud-task`` renders that task again whenever one of those fields
changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tunelab.domain.resources import Resources, asked, from_form, with_accelerators
from tunelab.errors import InvalidInput
from tunelab.server import access
from tunelab.server.api.deps import Who
from tunelab.server.db_gate import run_db
from tunelab.server.web.action_form import FormFields
from tunelab.server.web.templating import render
from tunelab.store import projects

router = APIRouter(include_in_schema=False)

FIELDS = ("cloud", "region", "instance_type", "accelerators", "disk_size")
# What the run asks of any machine, next to "Where it runs" (the Execution tab's fields).
COMPUTE_FIELDS = ("gpus", "gpu_type", "cpus", "memory", "time_limit")
RECORD_FIELDS = (*COMPUTE_FIELDS, "cloud", "region", "instance_type", "disk_size")
# Where the preview's task id goes: the task has none until the form is submitted.
TASK_PLACEHOLDER = "TASK_ID"
Text = Annotated[str, Query(max_length=128)]


def cloud_resources(values: Mapping[str, str], spot: bool) -> dict[str, Any]:
    """The form's resource fields as ``resources`` fields (the store checks them): the
    compute ones under the record's names, the Cloud tab's without their ``cloud_`` prefix.
    Parsed as the Execution tab parses them; accelerators fold into GPUs and GPU type."""
    texts = {name: values.get(name, "") for name in RECORD_FIELDS}
    texts["spot"] = "true" if spot else ""
    given = with_accelerators(from_form(texts), values.get("accelerators", ""))
    return {k: v for k, v in given.items() if asked(v)}


def posted_resources(form: FormFields) -> dict[str, Any] | None:
    """The posted compute fields and Cloud tab as ``resources`` (None: nothing asked)."""
    values = {name: form.get(name) for name in COMPUTE_FIELDS}
    values.update({name: form.get(f"cloud_{name}") for name in FIELDS})
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
    gpus: Text = "",
    gpu_type: Text = "",
    cpus: Text = "",
    memory: Text = "",
    time_limit: Text = "",
) -> HTMLResponse:
    """The Script tab's SkyPilot task for the form's resource fields (an htmx fragment)."""

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
        "gpus": gpus,
        "gpu_type": gpu_type,
        "cpus": cpus,
        "memory": memory,
        "time_limit": time_limit,
    }
    try:
        text = cloud_task_text(
            cloud_resources(values, cloud_spot.lower() in ("on", "true", "1", "yes"))
        )
    except InvalidInput as exc:
        text = f"# {exc.message}\n"
    return render(request, "git_run/_cloud_task.html", {"cloud_task": text})
