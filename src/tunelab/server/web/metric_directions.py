"""Setting which way a metric improves, from the pages: the menu on a metric column of a
project's experiments table, and the one beside each metric in Compare, post here.

The table's menu posts with the table's own query string and gets the table back, sorted
and marked anew; Compare's gets an empty answer that asks the page to reload, since its
best values, its arrows and its chart's colours all follow the direction.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from tunelab.domain.path_names import segment
from tunelab.server.api.deps import Conn
from tunelab.server.web.action_form import Form
from tunelab.server.web.experiments import project_experiments
from tunelab.server.web.templating import PAGE_HEADER, is_htmx
from tunelab.store import metric_directions

router = APIRouter(include_in_schema=False)


@router.post("/projects/{project_id}/metric-directions", response_model=None)
def set_metric_direction(project_id: str, request: Request, conn: Conn, form: Form) -> Response:
    """Set ``direction`` (lower, higher, or default: by the name) of ``metric``/``variant``
    on the project (the gate has checked the caller may change it)."""
    direction = metric_directions.parse_direction(form.get("direction"))
    metric_directions.set_direction(
        conn, project_id, form.get("metric"), form.get("variant"), direction
    )
    if not is_htmx(request):
        return RedirectResponse(f"/projects/{segment(project_id)}", status_code=303)
    if request.headers.get("HX-Target") == "exp-table":
        return project_experiments(project_id, request, conn)
    return Response(status_code=204, headers={"HX-Refresh": "true", PAGE_HEADER: "1"})
