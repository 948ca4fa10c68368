"""The Compare page, ``/compare?ids=a,b,c``: a few experiments side by side.

With fewer than two ids it is a picker (search by name as you type, tick, Compare). With two
or more: the experiments' details, execution, packages, hyperparameters, configuration
objects and user properties side by side, each value that differs from the first
experiment's marked; a metric summary; the scalar charts overlaid (``charts.js`` fills
``#compare-charts``); parallel coordinates of chosen hyperparameters against a metric
(``compare.js``). The ids' order is kept, and so the first experiment is the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tunelab.errors import InvalidInput, NotFound
from tunelab.server.api.deps import Conn
from tunelab.server.authorize import current_principal
from tunelab.server.web.compare_metrics import (
    VALUES,
    chart_data,
    default_axes,
    default_metric,
    metric_names,
    metric_rows,
    param_axes,
)
from tunelab.server.web.compare_plots import plotly_rows
from tunelab.server.web.compare_rows import comparison_groups
from tunelab.server.web.direction_menus import may_set
from tunelab.server.web.templating import is_htmx, render
from tunelab.server.web.visibility import require_readable, visible_projects
from tunelab.store import metric_directions, scalars, tasks
from tunelab.store.schema import tasks as tasks_table
from tunelab.store.task_listing import TaskQuery, list_tasks

router = APIRouter(include_in_schema=False)

# More columns than this stop being readable side by side; the table leaderboard is for more.
MAX_COMPARED = 10
# Experiments the picker lists (the most recently updated, or those matching the search).
PICKER_SIZE = 20

Ids = Annotated[list[str], Query()]


def parse_ids(raw: Sequence[str]) -> list[str]:
    """``ids`` as given: comma lists, repeated or both (a form without script sends
    ``ids=a&ids=b``); blanks and repeats dropped, the order kept."""
    found: dict[str, None] = {}
    for part in raw:
        for task_id in part.split(","):
            if task_id.strip():
                found.setdefault(task_id.strip(), None)
    if len(found) > MAX_COMPARED:
        raise InvalidInput(
            f"at most {MAX_COMPARED} experiments can be compared at once; {len(found)} were given"
        )
    return list(found)


def compare_url(ids: Sequence[str], *, only_diff: bool = False) -> str:
    query: dict[str, str] = {"ids": ",".join(ids)} if ids else {}
    if only_diff:
        query["only_diff"] = "1"
    # Commas stay readable in the address bar.
    return "/compare" + ("?" + urlencode(query, safe=",") if query else "")


def load_experiments(
    conn: sa.Connection, ids: Sequence[str], request: Request | None = None
) -> list[dict[str, Any]]:
    """The whole ``Task`` of each id, in order; one NotFound naming every unknown id."""
    known = set(
        conn.execute(sa.select(tasks_table.c.id).where(tasks_table.c.id.in_(ids))).scalars()
    )
    unknown = [task_id for task_id in ids if task_id not in known]
    if unknown:
        names = ", ".join(repr(task_id) for task_id in unknown)
        if len(unknown) == 1:
            raise NotFound(f"no experiment with id {names}: remove it from the comparison")
        raise NotFound(f"no experiments with ids {names}: remove them from the comparison")
    if request is not None:
        require_readable(request, conn, ids)
    return [tasks.get_task(conn, task_id) for task_id in ids]


def candidates(
    conn: sa.Connection, q: str, visible: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    query = TaskQuery(
        search=q.strip() or None,
        order_by="-last_update",
        page_size=PICKER_SIZE,
        visible=visible,
    )
    items: list[dict[str, Any]] = list_tasks(conn, query)["items"]
    return items


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    conn: Conn,
    ids: Ids = [],  # noqa: B006 (FastAPI copies a default; it is never shared)
    only_diff: bool = False,
    q: str = "",
    axes: str | None = None,
    pc_metric: str = "",
    pc_value: str = "last",
) -> HTMLResponse:
    chosen = parse_ids(ids)
    experiments = load_experiments(conn, chosen, request)
    context: dict[str, Any] = {
        "ids": chosen,
        "experiments": experiments,
        "only_diff": only_diff,
        "q": q,
        "compare_url": compare_url,
        "max_compared": MAX_COMPARED,
    }
    if len(experiments) < 2:
        context["items"] = candidates(conn, q, visible_projects(request, conn))
        context["mode"] = "pick"
        return render(request, "compare/page.html", context)
    context.update(_comparison(conn, experiments, axes, pc_metric, pc_value))
    context["may_set_directions"] = may_set(
        conn, current_principal(request), experiments[0]["project"]["name"]
    )
    return render(request, "compare/page.html", context)


def _comparison(
    conn: sa.Connection,
    experiments: Sequence[dict[str, Any]],
    axes: str | None,
    pc_metric: str,
    pc_value: str,
) -> dict[str, Any]:
    ids = [t["id"] for t in experiments]
    groups = comparison_groups(experiments)
    summaries = scalars.read_summaries(conn, ids)
    # The first experiment is the reference: its project's directions decide what is best.
    project_id = experiments[0]["project"]["id"]
    directions = metric_directions.directions_for(conn, project_id, metric_names(ids, summaries))
    rows = metric_rows(ids, summaries, directions)
    candidates_axes = param_axes(experiments)
    keys = {a.key for a in candidates_axes}
    chosen_axes = (
        [key for key in axes.split(",") if key in keys]
        if axes is not None
        else default_axes(candidates_axes)
    )
    metric_keys = {row.key for row in rows}
    return {
        "groups": groups,
        "differing": sum(g.differing for g in groups),
        "row_count": sum(len(g.rows) for g in groups),
        "metric_rows": rows,
        "param_axes": candidates_axes,
        "chosen_axes": chosen_axes,
        "pc_metric": pc_metric if pc_metric in metric_keys else default_metric(rows),
        "pc_value": pc_value if pc_value in VALUES else "last",
        "values": VALUES,
        "chart": chart_data(experiments, candidates_axes, rows),
        "task_names": {t["id"]: t["name"] for t in experiments},
        "direction_project": experiments[0]["project"],
        "plot_rows": plotly_rows(conn, experiments),
    }


@router.get("/compare/search", response_class=HTMLResponse, response_model=None)
def compare_search(
    request: Request,
    conn: Conn,
    q: str = "",
    ids: Ids = [],  # noqa: B006
    mode: str = "pick",
    only_diff: bool = False,
) -> Response:
    """Experiments matching ``q``: ticks for the picker (``mode=pick``), or links adding one
    to the current comparison (``mode=add``). Without htmx, the picker page with that search."""
    chosen = parse_ids(ids)
    if not is_htmx(request):
        query = {"q": q, **({"ids": ",".join(chosen)} if chosen else {})}
        return RedirectResponse("/compare?" + urlencode(query, safe=","), status_code=303)
    items = candidates(conn, q, visible_projects(request, conn))
    if mode == "add":
        items = [t for t in items if t["id"] not in chosen]
    context = {
        "items": items,
        "ids": chosen,
        "q": q,
        "mode": "add" if mode == "add" else "pick",
        "only_diff": only_diff,
        "compare_url": compare_url,
    }
    return render(request, "compare/_candidates.html", context)
