"""(being written) The experiment page's tabs."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tunelab.server.api.deps import Conn
from tunelab.server.web.experiment_page import experiment_context
from tunelab.server.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/experiments/{task_id}/execution", response_class=HTMLResponse)
def execution_tab(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return render(request, "experiment/base.html", experiment_context(conn, task_id, "execution"))
