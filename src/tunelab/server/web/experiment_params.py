"""Editing the Configuration tab: hyperparameters by section, user properties, configuration
objects. Each is a fragment with a stable URL (``?edit=1`` shows its form, ``?new=1`` a form
for a new section or object); a POST saves and answers the fragment again.

Hyperparameters and configuration objects are inputs (a draft's); user properties are
editable unless the task is published. The store checks the status in the same statement
that writes, so a save that loses a race to an enqueue is its Conflict (409), shown as a toast.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tunelab.errors import InvalidInput
from tunelab.server.api.deps import Conn
from tunelab.server.web.experiment_forms import (
    entries_from_rows,
    form_text,
    posted_rows,
)
from tunelab.server.web.experiment_view import fragment, saved
from tunelab.server.web.posted_form import PostedForm
from tunelab.server.web.templating import render
from tunelab.store import task_inputs
from tunelab.store.tasks import get_task

router = APIRouter(include_in_schema=False)


def _part(
    request: Request,
    conn: Conn,
    task_id: str,
    template: str,
    editing: str = "",
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return fragment(
        request,
        conn,
        task_id,
        tab="configuration",
        template=f"experiment/{template}",
        editing=editing,
        extra=extra,
        headers=headers,
    )


# --- hyperparameters ------------------------------------------------------------------------


@router.get("/experiments/{task_id}/hyperparameters", response_class=HTMLResponse)
def hyperparameters(task_id: str, request: Request, conn: Conn, new: bool = False) -> HTMLResponse:
    editing = "hyperparameters/+new" if new else ""
    return _part(request, conn, task_id, "_hyperparameters.html", editing)


@router.post("/experiments/{task_id}/hyperparameters", response_class=HTMLResponse)
def add_section(task_id: str, request: Request, conn: Conn, form: PostedForm) -> HTMLResponse:
    section = form_text(form, "section").strip()
    if not section:
        raise InvalidInput("a new section needs a name")
    stored = get_task(conn, task_id)["hyperparameters"]
    if section in stored:
        raise InvalidInput(f"there is a section {section!r} already: edit that one")
    entries = entries_from_rows(posted_rows(form), section, {})
    if not entries:
        raise InvalidInput(f"section {section!r} needs at least one parameter")
    task_inputs.merge_inputs(conn, task_id, "hyperparameters", {section: entries})
    headers = saved(f"Added section {section}")
    return _part(request, conn, task_id, "_hyperparameters.html", headers=headers)


@router.get("/experiments/{task_id}/hyperparameters/{section:path}", response_class=HTMLResponse)
def hyperparameter_section(
    task_id: str, section: str, request: Request, conn: Conn, edit: bool = False
) -> HTMLResponse:
    editing = f"hyperparameters/{section}" if edit else ""
    extra = {"section": section}
    return _part(request, conn, task_id, "_hyper_section.html", editing, extra)


@router.post("/experiments/{task_id}/hyperparameters/{section:path}", response_class=HTMLResponse)
def save_section(
    task_id: str, section: str, request: Request, conn: Conn, form: PostedForm
) -> HTMLResponse:
    """The section becomes what the form shows: rows removed in the form are deleted."""
    stored = get_task(conn, task_id)["hyperparameters"].get(section, {})
    entries = entries_from_rows(posted_rows(form), section, stored)
    gone: dict[str, Any] = {name: None for name in stored if name not in entries}
    change: Any = {**entries, **gone} if entries else None  # None: the whole section goes
    task_inputs.merge_inputs(conn, task_id, "hyperparameters", {section: change})
    headers = saved(f"Saved {section}")
    extra = {"section": section}
    return _part(request, conn, task_id, "_hyper_section.html", extra=extra, headers=headers)


# --- user properties ------------------------------------------------------------------------


@router.get("/experiments/{task_id}/user-properties", response_class=HTMLResponse)
def user_properties(task_id: str, request: Request, conn: Conn, edit: bool = False) -> HTMLResponse:
    editing = "user-properties" if edit else ""
    return _part(request, conn, task_id, "_user_properties.html", editing)


@router.post("/experiments/{task_id}/user-properties", response_class=HTMLResponse)
def save_user_properties(
    task_id: str, request: Request, conn: Conn, form: PostedForm
) -> HTMLResponse:
    stored = get_task(conn, task_id)["user_properties"]
    entries = entries_from_rows(posted_rows(form), "User properties", stored)
    task_inputs.replace_inputs(conn, task_id, "user_properties", entries)
    headers = saved("Saved the user properties")
    return _part(request, conn, task_id, "_user_properties.html", headers=headers)


# --- configuration objects ------------------------------------------------------------------


@router.get("/experiments/{task_id}/configuration-objects", response_class=HTMLResponse)
def configuration_objects(
    task_id: str, request: Request, conn: Conn, new: bool = False
) -> HTMLResponse:
    editing = "configuration-objects/+new" if new else ""
    return _part(request, conn, task_id, "_config_objects.html", editing)


@router.post("/experiments/{task_id}/configuration-objects", response_class=HTMLResponse)
def add_configuration_object(
    task_id: str, request: Request, conn: Conn, form: PostedForm
) -> HTMLResponse:
    name = form_text(form, "name").strip()
    if not name:
        raise InvalidInput("a configuration object needs a name")
    if name in get_task(conn, task_id)["configuration"]:
        raise InvalidInput(f"there is a configuration object {name!r} already: edit that one")
    entry = {
        "text": form_text(form, "text"),
        "type": form_text(form, "type").strip() or "dictionary",
        "description": form_text(form, "description"),
    }
    task_inputs.merge_inputs(conn, task_id, "configuration", {name: entry})
    headers = saved(f"Added configuration object {name}")
    return _part(request, conn, task_id, "_config_objects.html", headers=headers)


@router.get("/experiments/{task_id}/configuration-objects/{name:path}", response_class=HTMLResponse)
def configuration_object(
    task_id: str, name: str, request: Request, conn: Conn, edit: bool = False
) -> HTMLResponse:
    editing = f"configuration-objects/{name}" if edit else ""
    return _part(request, conn, task_id, "_config_object.html", editing, {"name": name})


@router.post(
    "/experiments/{task_id}/configuration-objects/{name:path}", response_class=HTMLResponse
)
def save_configuration_object(
    task_id: str, name: str, request: Request, conn: Conn, form: PostedForm
) -> HTMLResponse:
    """``op``: ``save`` the posted text, ``clear`` it, or ``delete`` the object."""
    op = form_text(form, "op") or "save"
    stored = get_task(conn, task_id)["configuration"]
    if name not in stored:
        raise InvalidInput(f"no configuration object {name!r}; add it instead")
    entry = dict(stored[name])
    if op == "save":
        entry["text"] = form_text(form, "text")
        if "description" in form:
            entry["description"] = form_text(form, "description")
    elif op == "clear":
        entry["text"] = ""
    elif op != "delete":
        raise InvalidInput(f"cannot {op!r} a configuration object: save, clear or delete")
    change = None if op == "delete" else entry
    task_inputs.merge_inputs(conn, task_id, "configuration", {name: change})
    done = {"save": "Saved", "clear": "Cleared", "delete": "Deleted"}[op]
    headers = saved(f"{done} configuration object {name}")
    if op == "delete" and request.headers.get("HX-Request") == "true":
        # Swapping in nothing removes the object from the page.
        return render(request, "experiment/_empty.html", {}, headers=headers)
    extra = {"name": name}
    return _part(request, conn, task_id, "_config_object.html", extra=extra, headers=headers)
