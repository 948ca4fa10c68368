"""What the experiment page's own tabs show beyond the task: which edits the rules allow (and
the sentence saying why not), the execution's sections, hyperparameter sections in order,
where an artifact downloads from, how long a run took.

Tabs and edit routes both build their context here, so a section re-rendered after a save
looks exactly like the one the tab rendered.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from tunelab.domain.lifecycle import Editable, require_editable
from tunelab.domain.path_names import key_path, segment
from tunelab.domain.task import (
    SECTION_ARGS,
    SECTION_ENVIRONMENT,
    SECTION_GENERAL,
    SECTION_TF_DEFINE,
    TaskStatus,
)
from tunelab.errors import Conflict, InvalidInput
from tunelab.server.web.experiment_forms import is_finite_number, is_true
from tunelab.server.web.experiment_page import experiment_context
from tunelab.server.web.templating import is_htmx, render
from tunelab.storage import parse_destination
from tunelab.store.tasks import get_task

# The SDK's own sections first, in the order the seeds name them; custom ones after, by name.
KNOWN_SECTIONS = (SECTION_ARGS, SECTION_TF_DEFINE, SECTION_GENERAL, SECTION_ENVIRONMENT)
# The types an edit form knows how to check; any other type is edited as text.
PARAM_TYPES = ("str", "int", "float", "bool")


@dataclass(frozen=True)
class ExecField:
    name: str
    label: str
    multiline: bool = False
    checkbox: bool = False  # a yes/no field: a checkbox in the form


@dataclass(frozen=True)
class ExecPart:
    """One section of the Execution tab, edited on its own (the seeds' hover > EDIT > SAVE)."""

    slug: str
    title: str
    fields: tuple[ExecField, ...]


EXEC_PARTS = (
    ExecPart(
        "source",
        "Source code",
        (
            ExecField("repository", "Repository"),
            ExecField("branch", "Branch"),
            ExecField("commit", "Commit or tag"),
            ExecField("entry_point", "Script"),
            ExecField("working_dir", "Working directory"),
            ExecField("binary", "Binary"),
        ),
    ),
    ExecPart("requirements", "Python packages", (ExecField("requirements", "Packages", True),)),
    ExecPart("diff", "Uncommitted changes", (ExecField("diff", "Diff", True),)),
    ExecPart(
        "docker",
        "Base docker image",
        (
            ExecField("docker_image", "Image"),
            ExecField("docker_arguments", "Arguments"),
            ExecField("docker_setup_script", "Setup script", True),
        ),
    ),
    ExecPart("output", "Output destination", (ExecField("output_uri", "Destination"),)),
    # Not execution fields: the task's ``resources``, which a launcher asks its scheduler for.
    ExecPart(
        "resources",
        "Resources",
        (
            ExecField("gpus", "GPUs"),
            ExecField("gpu_type", "GPU type"),
            ExecField("cpus", "CPUs"),
            ExecField("memory", "Memory"),
            ExecField("time_limit", "Time limit"),
            ExecField("cloud", "Cloud"),
            ExecField("region", "Region"),
            ExecField("instance_type", "Instance type"),
            ExecField("spot", "Spot instance", checkbox=True),
            ExecField("disk_size", "Disk"),
        ),
    ),
)
EXEC_PARTS_BY_SLUG = {part.slug: part for part in EXEC_PARTS}


def why_not(kind: Editable, status: str) -> str:
    """The store's Conflict message for this kind of edit in ``status``; "" when allowed."""
    try:
        require_editable(kind, TaskStatus(status))
    except Conflict as refused:
        return refused.message
    return ""


def tab_context(conn: sa.Connection, task_id: str, tab: str, editing: str = "") -> dict[str, Any]:
    """``experiment_context`` plus the rules and layout every own tab and fragment uses.

    ``editing`` names the one section shown as a form (``execution/source``,
    ``hyperparameters/Args``, ``hyperparameters/+new``, ``user-properties``,
    ``configuration-objects/<name>``, ``configuration-objects/+new``)."""
    context = experiment_context(conn, task_id, tab)
    return {**context, **section_context(context["task"], editing)}


def section_context(task: dict[str, Any], editing: str = "") -> dict[str, Any]:
    status = task["status"]
    return {
        "task": task,
        "editing": editing,
        "why_inputs": why_not(Editable.INPUTS, status),
        "why_props": why_not(Editable.USER_PROPERTIES, status),
        "exec_parts": EXEC_PARTS,
        "sections": ordered_sections(task["hyperparameters"]),
        "known_sections": KNOWN_SECTIONS,
        "param_types": PARAM_TYPES,
        "download_url": download_url,
        "run_seconds": run_seconds(task),
        "hx": hx,
        "is_true": is_true,
        "is_finite_number": is_finite_number,
    }


def fragment(
    request: Request,
    conn: sa.Connection,
    task_id: str,
    *,
    tab: str,
    template: str,
    editing: str = "",
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """One section for htmx (``template``); for a plain request, the whole tab with that
    section in the same state, so every fragment URL is also a page."""
    if is_htmx(request):
        context = section_context(get_task(conn, task_id), editing)
        return render(request, template, {**context, **(extra or {})}, headers=headers)
    context = {**tab_context(conn, task_id, tab, editing), **(extra or {})}
    return render(request, f"experiment/{tab}.html", context, headers=headers)


def hx(**attributes: str) -> Markup:
    """htmx attributes for ``ui.button``'s ``attrs``, escaped: ``hx(get=url, swap="outerHTML")``
    is ``hx-get="..." hx-swap="outerHTML"``."""
    return Markup(" ".join(f'hx-{name}="{escape(value)}"' for name, value in attributes.items()))


def saved(message: str, **events: object) -> dict[str, str]:
    """Headers that make the page say ``message`` (and fire ``events``) after a swap."""
    return {"HX-Trigger": json.dumps({"toast": {"message": message, "kind": "ok"}, **events})}


def require_part(slug: str) -> ExecPart:
    part = EXEC_PARTS_BY_SLUG.get(slug)
    if part is None:
        known = ", ".join(EXEC_PARTS_BY_SLUG)
        raise InvalidInput(f"no execution section {slug!r}; one of: {known}")
    return part


def ordered_sections(hyperparameters: dict[str, Any]) -> list[str]:
    known = [s for s in KNOWN_SECTIONS if s in hyperparameters]
    return known + sorted(s for s in hyperparameters if s not in KNOWN_SECTIONS)


def download_url(task_id: str, artifact: dict[str, Any]) -> str:
    """The server's own files download from the file API; anything else through the page's
    route, which reads it with the server's storage credentials."""
    uri = artifact.get("uri") or ""
    if not uri:
        return ""
    if uri.startswith("tunelab://"):
        try:
            key = parse_destination(uri).path
        except InvalidInput:
            return ""
        return "/api/v1/files/" + key_path(key)
    return f"/experiments/{task_id}/artifacts/{segment(artifact['name'])}/download"


def run_seconds(task: dict[str, Any]) -> float | None:
    """How long the run took, or has taken so far while it runs."""
    started = task.get("started")
    if started is None:
        return None
    ended = task.get("completed")
    if ended is None:
        ended = time.time() if task["status"] == TaskStatus.RUNNING else task["last_update"]
    return max(0.0, float(ended) - float(started))
