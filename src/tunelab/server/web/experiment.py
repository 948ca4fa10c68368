"""The experiment page's tabs Execution, Configuration, Artifacts, Info and Console.

Each tab is a whole page at its own URL. Their edit routes live in ``experiment_edit``
(execution, input model) and ``experiment_params`` (hyperparameters, user properties,
configuration objects); artifact downloads in ``experiment_files``; the model page in
``models_page``. All are included here, so the frame's ``__init__`` lists one module.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tunelab.server.api.deps import Conn
from tunelab.server.api.task_models import INT64_MAX
from tunelab.server.web import experiment_files, models_page
from tunelab.server.web.experiment_view import tab_context
from tunelab.server.web.templating import FINAL_STATUSES, render
from tunelab.store import console

router = APIRouter(include_in_schema=False)
router.include_router(experiment_files.router)
router.include_router(models_page.router)

# Lines the Console tab renders at once; the live tail (or "Next lines") reads on from there.
CONSOLE_PAGE = 5000


@router.get("/experiments/{task_id}/execution", response_class=HTMLResponse)
def execution_tab(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return render(request, "experiment/execution.html", tab_context(conn, task_id, "execution"))


@router.get("/experiments/{task_id}/configuration", response_class=HTMLResponse)
def configuration_tab(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    context = tab_context(conn, task_id, "configuration")
    return render(request, "experiment/configuration.html", context)


@router.get("/experiments/{task_id}/artifacts", response_class=HTMLResponse)
def artifacts_tab(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return render(request, "experiment/artifacts.html", tab_context(conn, task_id, "artifacts"))


@router.get("/experiments/{task_id}/info", response_class=HTMLResponse)
def info_tab(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return render(request, "experiment/info.html", tab_context(conn, task_id, "info"))


@router.get("/experiments/{task_id}/console", response_class=HTMLResponse)
def console_tab(
    task_id: str,
    request: Request,
    conn: Conn,
    search: Annotated[str, Query(max_length=1000)] = "",
    after: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> HTMLResponse:
    """The console from line ``after`` on, or only the lines containing ``search``; while the
    task runs, the page's script appends new lines as they arrive."""
    context = tab_context(conn, task_id, "console")
    page = console.read_lines(conn, task_id, after=after, limit=CONSOLE_PAGE, search=search or None)
    context.update(
        lines=page.lines,
        next_after=page.next,
        more=len(page.lines) == CONSOLE_PAGE,
        search=search,
        after=after,
        live=context["task"]["status"] not in FINAL_STATUSES,
    )
    return render(request, "experiment/console.html", context)
