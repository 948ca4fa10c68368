"""A registered model's page: Info (what it is, where its weights are, the metrics it
reported: ``model_metrics``), Network (its configuration text, edited or cleared) and Labels
(its label enumeration, edited as a list of label and number pairs).

Experiments link here from their input and output models (``/models/{model_id}``); the
models table (``models_list``) lists them all. A published model's page shows no edit
controls, and the store refuses its edits (409) all the same.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tunelab.errors import Forbidden, InvalidInput
from tunelab.server import access
from tunelab.server.api.deps import Conn
from tunelab.server.authorize import current_principal
from tunelab.server.web import models_list
from tunelab.server.web.action_form import Form
from tunelab.server.web.experiment_view import download_url
from tunelab.server.web.model_metrics import metrics_section
from tunelab.server.web.templating import is_htmx, render
from tunelab.store import models

router = APIRouter(include_in_schema=False)
router.include_router(models_list.router)

TABS = (("", "Info"), ("network", "Network"), ("labels", "Labels"))


@router.get("/models/{model_id}", response_class=HTMLResponse)
def model_page(model_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return _page(request, conn, model_id, "")


@router.get("/models/{model_id}/network", response_class=HTMLResponse)
def network_tab(model_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return _page(request, conn, model_id, "network")


@router.get("/models/{model_id}/labels", response_class=HTMLResponse)
def labels_tab(model_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return _page(request, conn, model_id, "labels")


@router.post("/models/{model_id}/network")
def save_network(model_id: str, request: Request, conn: Conn, form: Form) -> Response:
    """Save the configuration text, or clear it (``action=clear``)."""
    text = "" if form.get("action") == "clear" else form.get("config_text")
    # Browsers post a textarea's lines with CRLF; the text is stored as it was written.
    models.update_model(conn, model_id, {"config_text": text.replace("\r\n", "\n")})
    message = "Configuration cleared." if not text else "Configuration saved."
    return _saved(request, conn, model_id, "network", message)


@router.post("/models/{model_id}/labels")
def save_labels(model_id: str, request: Request, conn: Conn, form: Form) -> Response:
    """Replace the label enumeration with the posted rows (``label``/``value`` pairs; a row
    with neither is skipped)."""
    names, numbers = form.all("label"), form.all("value")
    labels: dict[str, int] = {}
    for position, name in enumerate(names):
        label = name.strip()
        number = numbers[position].strip() if position < len(numbers) else ""
        if not label and not number:
            continue
        if not label:
            raise InvalidInput(f"the label of number {number} is empty")
        if label in labels:
            raise InvalidInput(f"label {label!r} is given twice")
        try:
            labels[label] = int(number)
        except ValueError:
            raise InvalidInput(f"label {label!r} needs a whole number, got {number!r}") from None
    models.update_model(conn, model_id, {"labels": labels})
    return _saved(request, conn, model_id, "labels", "Labels saved.")


def _page(request: Request, conn: sa.Connection, model_id: str, tab: str) -> HTMLResponse:
    model = models.get_model(conn, model_id)
    if model["uri"].startswith("tunelab://"):
        download = download_url("", {"uri": model["uri"], "name": model["name"]})
    else:
        download = f"/models/{model_id}/download" if model["uri"] else ""
    labels = sorted(model["labels"].items(), key=lambda item: (item[1], item[0]))
    context: dict[str, Any] = {
        "model": model,
        "metrics": metrics_section(conn, model_id) if tab == "" else None,
        "labels": labels,
        "download": download,
        "tab": tab,
        "tabs": TABS,
        "editable": not model["published"] and _may_write(request, conn, model_id),
    }
    return render(request, "models/model.html", context)


def _may_write(request: Request, conn: sa.Connection, model_id: str) -> bool:
    """Whether the account may change the model (a viewer sees no edit controls)."""
    try:
        access.require_model(conn, current_principal(request), model_id, access.WRITE)
    except Forbidden:
        return False
    return True


def _saved(
    request: Request, conn: sa.Connection, model_id: str, tab: str, message: str
) -> Response:
    """The tab again, with a toast; a plain form post goes back to the tab's page."""
    if not is_htmx(request):
        return RedirectResponse(f"/models/{model_id}/{tab}", status_code=303)
    response = _page(request, conn, model_id, tab)
    response.headers["HX-Trigger"] = json.dumps({"toast": {"message": message, "kind": "ok"}})
    return response
