"""A registered model's page: what it is, where its weights are, its configuration and labels.

Experiments link here from their input and output models (``/models/{model_id}``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tunelab.server.api.deps import Conn
from tunelab.server.web.experiment_view import download_url
from tunelab.server.web.templating import render
from tunelab.store import models

router = APIRouter(include_in_schema=False)


@router.get("/models/{model_id}", response_class=HTMLResponse)
def model_page(model_id: str, request: Request, conn: Conn) -> HTMLResponse:
    model = models.get_model(conn, model_id)
    if model["uri"].startswith("tunelab://"):
        download = download_url("", {"uri": model["uri"], "name": model["name"]})
    else:
        download = f"/models/{model_id}/download" if model["uri"] else ""
    labels = sorted(model["labels"].items(), key=lambda item: (item[1], item[0]))
    context = {"model": model, "labels": labels, "download": download}
    return render(request, "models/model.html", context)
