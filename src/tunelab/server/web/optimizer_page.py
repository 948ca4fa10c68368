"""Hyperparameter optimization in the web app: the "Optimize…" form on a completed
experiment, and the Optimization tab of an optimizer's page.

The form lists the experiment's hyperparameters (each searched with the kinds of range its
stored type allows), its metrics for the objective, the strategy, queues and budget; posting
it starts an optimizer task (``server.optimizer_launch``) and opens its page.

The Optimization tab shows the trials, read live from the tasks tagged as the optimizer's
(so a row appears as soon as a trial is created): parameters, objective, status, best
first, each linked to its experiment. While the optimizer runs, the trials fragment is polled
(htmx, every 2 s). ``js/optimization.js`` draws the objective by trial with the best so far,
and the parameters' parallel coordinates, from the fragment's data.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from tunelab.automation.objective import SIGNS, Objective
from tunelab.automation.report import CONFIGURATION_NAME
from tunelab.automation.run_optimizer import STRATEGIES
from tunelab.domain.system_metrics import is_system_metric
from tunelab.errors import InvalidInput
from tunelab.server import optimizer_launch as launcher
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.lifecycle import WakeWorkers
from tunelab.server.web.action_form import changed, plural
from tunelab.server.web.experiment_view import tab_context
from tunelab.server.web.posted_form import PostedForm
from tunelab.server.web.templating import FINAL_STATUSES, render
from tunelab.store import queues, scalars, tasks

router = APIRouter(include_in_schema=False)

OPTIMIZABLE = frozenset({"completed", "published", "stopped"})


def can_optimize(task: dict[str, Any]) -> bool:
    """Whether "Optimize…" is offered: an ended run that has hyperparameters."""
    return task["status"] in OPTIMIZABLE and bool(task.get("hyperparameters"))


def _metrics(conn: sa.Connection, task_id: str) -> dict[str, dict[str, Any]]:
    found = scalars.read_summaries(conn, [task_id]).get(task_id) or {}
    return {title: series for title, series in found.items() if not is_system_metric(title)}


def _form_context(conn: sa.Connection, task_id: str) -> dict[str, Any]:
    context = tab_context(conn, task_id, "optimize")
    params = launcher.parameters_of(context["task"])
    for param in params:
        param["kinds"] = launcher.kinds_for(param["type"])  # type: ignore[assignment]
    metrics = _metrics(conn, task_id)
    context.update(
        params=params,
        objectives=[
            (json.dumps([title, series]), f"{title} / {series}")
            for title in sorted(metrics)
            for series in sorted(metrics[title])
        ],
        signs=SIGNS,
        strategies=list(STRATEGIES),
        queue_names=[q["name"] for q in queues.list_queues(conn)],
        can_optimize=can_optimize(context["task"]),
    )
    return context


@router.get("/experiments/{task_id}/optimize", response_class=HTMLResponse)
def optimize_form(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return render(request, "experiment/optimize.html", _form_context(conn, task_id))


@router.post("/experiments/{task_id}/optimize")
def start_optimizer(
    task_id: str, request: Request, conn: Conn, who: Who, form: PostedForm, _wake: WakeWorkers
) -> Response:
    base = tasks.get_task(conn, task_id)
    if not can_optimize(base):
        raise InvalidInput("only an ended experiment with hyperparameters can be optimized")
    spec, queue = launcher.spec_from_form(base, _metrics(conn, task_id), form)
    optimizer = launcher.launch(conn, who, base, spec, queue)
    url = f"/experiments/{optimizer['id']}/optimization"
    message = f"Optimizer started: it waits in {queue} for an agent"
    return changed(request, [optimizer["id"]], message, back_to=url, redirect=url)


# ----- the Optimization tab -------------------------------------------------------------


def _spec(task: dict[str, Any]) -> dict[str, Any] | None:
    body = (task.get("configuration") or {}).get(CONFIGURATION_NAME) or {}
    try:
        spec = json.loads(str(body.get("text") or ""))
    except ValueError:
        return None
    return spec if isinstance(spec, dict) else None


def trials_context(conn: sa.Connection, task: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (None for an optimizer without one), ``names``, ``rows`` best first,
    ``chart`` (the JSON the page's script draws) and whether the tab is ``live``."""
    spec = _spec(task)
    live = task["status"] not in FINAL_STATUSES
    if spec is None:
        return {"spec": None, "names": [], "rows": [], "chart": "{}", "live": live,
                "stoppable": live}  # fmt: skip
    names = [str(p.get("name")) for p in spec.get("hyper_parameters") or []]
    goal = spec.get("objective") or {}
    objective = Objective(str(goal.get("title")), str(goal.get("series")),
                          str(goal.get("sign") or "min"))  # fmt: skip
    ids = launcher.trial_ids(conn, task["id"])
    summaries = scalars.read_summaries(conn, ids) if ids else {}
    rows = []
    for number, trial_id in enumerate(ids, start=1):
        trial = tasks.get_task(conn, trial_id)
        values = {}
        for name in names:
            section, _, key = name.partition("/")
            body = (trial["hyperparameters"].get(section) or {}).get(key) or {}
            values[name] = body.get("value", "")
        value, _ = objective.value(_as_read(summaries.get(trial_id) or {}))
        rows.append({"number": number, "id": trial_id, "name": trial["name"],
                     "status": trial["status"], "values": values, "objective": value})  # fmt: skip
    rows.sort(key=lambda r: (objective.sort_key(r["objective"]), r["number"]))
    active = any(r["status"] in launcher.ACTIVE for r in rows)
    return {
        "spec": spec,
        "objective": objective,
        "names": names,
        "rows": rows,
        "chart": json.dumps(_chart(rows, names, objective)),
        "live": live or active,
        "stoppable": task["status"] in launcher.ACTIVE or active,
    }


def _as_read(metrics: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Summaries as ``GET /tasks/{id}/metrics`` answers them (what ``Objective`` reads)."""
    return {title: {series: dataclasses.asdict(s) for series, s in found.items()}
            for title, found in metrics.items()}  # fmt: skip


def _chart(rows: list[dict[str, Any]], names: list[str], objective: Objective) -> dict[str, Any]:
    """Objective by trial with the best so far, and each trial's values for the
    parallel coordinates (numbers as numbers; other values by their text)."""
    points, best = [], None
    for row in sorted(rows, key=lambda r: r["number"]):
        value = row["objective"]
        if value is None or not math.isfinite(value):
            continue
        if best is None or objective.better(value, best):
            best = value
        points.append([row["number"], value, best])
    lines = [
        {"id": row["id"], "objective": row["objective"],
         "values": [_number_or_text(row["values"][n]) for n in names]}
        for row in rows if row["objective"] is not None
    ]  # fmt: skip
    return {"names": names, "label": f"{objective.title}/{objective.series}",
            "points": points, "lines": lines, "maximize": objective.maximize}  # fmt: skip


def _number_or_text(text: Any) -> Any:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return str(text)
    return value if math.isfinite(value) else str(text)


@router.get("/experiments/{task_id}/optimization", response_class=HTMLResponse)
def optimization_tab(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    context = tab_context(conn, task_id, "optimization")
    context.update(trials_context(conn, context["task"]))
    return render(request, "experiment/optimization.html", context)


@router.get("/experiments/{task_id}/optimization/trials", response_class=HTMLResponse)
def optimization_trials(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    task = tasks.get_task(conn, task_id)
    context = {"task": task, **trials_context(conn, task)}
    return render(request, "experiment/_optimization_trials.html", context)


@router.post("/experiments/{task_id}/optimization/stop")
def stop_optimizer(
    task_id: str, request: Request, conn: Conn, who: Who, _wake: WakeWorkers
) -> Response:
    stopped = launcher.stop(conn, who, task_id)
    message = f"Stopping the optimizer ({plural(len(stopped), 'task')} asked to stop)"
    return changed(request, [task_id, *stopped], message,
                   back_to=f"/experiments/{task_id}/optimization")  # fmt: skip
