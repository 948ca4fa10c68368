"""Editing an experiment's execution (each section of the Execution tab) and its input model.

A section is a fragment at ``/experiments/{id}/execution/{part}``; ``?edit=1`` shows it as a
form, a POST saves it (``op``: ``save``, ``clear``, or ``reset`` for the packages) and answers
the section again. Inputs are editable on a draft only; the store refuses anything else
with the same Conflict (409) as the API, which the page shows as a toast.

Hyperparameters, user properties and configuration objects are in ``experiment_params``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tunelab.domain import resources
from tunelab.domain.lifecycle import Editable, require_editable
from tunelab.domain.task import TaskStatus
from tunelab.errors import InvalidInput
from tunelab.server import access
from tunelab.server.api.deps import Conn
from tunelab.server.authorize import current_principal
from tunelab.server.web import experiment_params
from tunelab.server.web.experiment_forms import form_text
from tunelab.server.web.experiment_view import fragment, require_part, saved
from tunelab.server.web.posted_form import PostedForm
from tunelab.server.web.templating import render
from tunelab.server.web.visibility import visible_projects
from tunelab.storage import parse_destination
from tunelab.store import input_model, tasks
from tunelab.store.model_listing import ModelQuery, list_models

router = APIRouter(include_in_schema=False)
router.include_router(experiment_params.router)

# Sections the Execution tab offers a Clear for (the source code is edited, never cleared).
CLEARABLE = frozenset({"requirements", "diff", "docker", "output", "resources"})
MODEL_CHOICES = 50


@router.get("/experiments/{task_id}/execution/{part}", response_class=HTMLResponse)
def execution_part(
    task_id: str, part: str, request: Request, conn: Conn, edit: bool = False
) -> HTMLResponse:
    section = require_part(part)
    editing = f"execution/{part}" if edit else ""
    return fragment(
        request,
        conn,
        task_id,
        tab="execution",
        template="experiment/_exec_part.html",
        editing=editing,
        extra={"part": section},
    )


@router.post("/experiments/{task_id}/execution/{part}", response_class=HTMLResponse)
def save_execution_part(
    task_id: str, part: str, request: Request, conn: Conn, form: PostedForm
) -> HTMLResponse:
    section = require_part(part)
    op = form_text(form, "op") or "save"
    task = tasks.get_task(conn, task_id)
    # Said up front even when nothing would change: the form was not for this status.
    require_editable(Editable.INPUTS, TaskStatus(task["status"]))
    if op == "save":
        changes = {f.name: form_text(form, f.name) for f in section.fields}
        done = f"Saved the {section.title.lower()}"
    elif op == "clear" and part in CLEARABLE:
        changes = {f.name: "" for f in section.fields}
        done = f"Cleared the {section.title.lower()}"
    elif op == "reset" and part == "requirements":
        changes = {"requirements": task["execution"]["original_requirements"]}
        done = "Python packages reset to the original ones"
    else:
        raise InvalidInput(f"cannot {op!r} the {section.title.lower()}")
    uri = changes.get("output_uri", "").strip()
    if uri:
        changes["output_uri"] = parse_destination(uri).uri  # a typo is a 400 naming the forms
    if part == "resources":
        tasks.update_task(conn, task_id, {"resources": resources.from_form(changes)})
    else:
        tasks.update_task(conn, task_id, {"execution": changes})
    return fragment(
        request,
        conn,
        task_id,
        tab="execution",
        template="experiment/_exec_part.html",
        extra={"part": section},
        headers=saved(done),
    )


# --- the input model ------------------------------------------------------------------------


@router.get("/experiments/{task_id}/input-model", response_class=HTMLResponse)
def input_model_view(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return fragment(
        request, conn, task_id, tab="artifacts", template="experiment/_input_model.html"
    )


@router.get("/experiments/{task_id}/input-model/select", response_class=HTMLResponse)
def select_model(
    task_id: str,
    request: Request,
    conn: Conn,
    q: Annotated[str, Query(max_length=200)] = "",
    scope: str = "project",
) -> HTMLResponse:
    """The SELECT MODEL dialog: models of this project, or of every project, by name."""
    task = tasks.get_task(conn, task_id)
    require_editable(Editable.INPUTS, TaskStatus(task["status"]))
    project = task["project"]["name"] if scope == "project" else None
    query = ModelQuery(
        project=project,
        search=q or None,
        page_size=MODEL_CHOICES,
        visible=visible_projects(request, conn),
    )
    found = list_models(conn, query)
    context = {"task": task, "models": found["items"], "total": found["total"], "q": q}
    context["scope"] = "project" if project else "all"
    template = "experiment/_model_choices.html" if request.query_params.get("list") else None
    return render(request, template or "experiment/_select_model.html", context)


@router.post("/experiments/{task_id}/input-model", response_class=HTMLResponse)
def set_input_model(task_id: str, request: Request, conn: Conn, form: PostedForm) -> HTMLResponse:
    """Choose the input model (``model_id``), or remove it (an empty ``model_id``)."""
    model_id = form_text(form, "model_id").strip() or None
    if model_id is not None:
        access.require_model(conn, current_principal(request), model_id, access.READ)
    input_model.set_input_model(conn, task_id, model_id)
    done = "Input model set" if model_id else "Input model removed"
    return fragment(
        request,
        conn,
        task_id,
        tab="artifacts",
        template="experiment/_input_model.html",
        headers=saved(done, **{"close-modal": True}),
    )
