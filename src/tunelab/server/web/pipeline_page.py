"""The experiment page's Pipeline tab, for a pipeline run (a ``controller`` task): its steps
drawn as a graph, each with its live status, and the button that stops the run.

The graph is laid out here and drawn as inline SVG, no script: a step's column is its depth
(one past its deepest parent), its row its place among the steps of that column; edges run
from each parent to the step. A node links to the step's experiment, a cached step to the
task it reused. While the controller runs, ``/experiments/{id}/pipeline/graph`` is polled
(htmx, every 2 s) and answers the fragment again, without polling once the run has ended.
A step's status is the record's (``domain.pipeline_record``), moved on by its task's own
status while the record still says queued or running.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from tunelab.domain.pipeline_record import (
    ACTIVE,
    NOT_STARTED,
    Step,
    layers,
    live_status,
    pipeline_steps,
)
from tunelab.errors import NotFound
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.lifecycle import WakeWorkers
from tunelab.server.pipeline_stop import stop_pipeline
from tunelab.server.web.action_form import changed, plural
from tunelab.server.web.experiment_view import tab_context
from tunelab.server.web.templating import FINAL_STATUSES, render
from tunelab.store import tasks
from tunelab.store.task_status import read_state

router = APIRouter(include_in_schema=False)

NODE_W, NODE_H = 168, 52
GAP_X, GAP_Y, PAD = 72, 20, 12
# Text that fits a node; the whole name is the node's tooltip.
NAME_CHARS = 20


@dataclass(frozen=True)
class Node:
    step: Step
    status: str
    x: int
    y: int

    @property
    def label(self) -> str:
        name = self.step.name
        return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"


@dataclass(frozen=True)
class Edge:
    parent: str
    child: str
    path: str


@dataclass(frozen=True)
class Drawing:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    node_width: int = NODE_W
    node_height: int = NODE_H


def draw(steps: list[Step], statuses: dict[str, str]) -> Drawing:
    column = layers(steps)
    rows: dict[int, int] = {}
    nodes: dict[str, Node] = {}
    for step in steps:
        col = column[step.name]
        row = rows.get(col, 0)
        rows[col] = row + 1
        x, y = PAD + col * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y)
        nodes[step.name] = Node(step, statuses[step.name], x, y)
    edges = []
    for step in steps:
        child = nodes[step.name]
        for parent_name in step.parents:
            parent = nodes[parent_name]
            x1, y1 = parent.x + NODE_W, parent.y + NODE_H // 2
            x2, y2 = child.x - 6, child.y + NODE_H // 2  # the arrow head ends at the box
            mid = (x1 + x2) // 2
            path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
            edges.append(Edge(parent_name, step.name, path))
    columns = max(rows, default=0) + 1
    width = 2 * PAD + columns * NODE_W + (columns - 1) * GAP_X
    height = 2 * PAD + max(rows.values(), default=1) * (NODE_H + GAP_Y) - GAP_Y
    return Drawing(list(nodes.values()), edges, width, height)


def _statuses(conn: sa.Connection, steps: list[Step]) -> dict[str, str]:
    found = {}
    for step in steps:
        task_status = None
        if step.task_id is not None and step.status in ACTIVE:
            try:
                task_status = str(read_state(conn, step.task_id).status)
            except NotFound:
                task_status = None
        found[step.name] = live_status(step, task_status)
    return found


def graph_context(conn: sa.Connection, task: dict[str, Any]) -> dict[str, Any]:
    """``steps`` (None for a task that is not a pipeline run), the ``drawing``, whether the
    fragment polls (``live``) and whether the run can be stopped."""
    steps = pipeline_steps(task)
    if steps is None:
        return {"steps": None, "drawing": None, "live": False, "stoppable": False}
    if task["status"] in NOT_STARTED:
        # A clone's record is its source run's: this run's steps have no tasks yet.
        steps = [
            replace(s, status="pending", task_id=None, cached_from=None, reason="") for s in steps
        ]
    statuses = _statuses(conn, steps)
    active = task["status"] in ACTIVE or any(s in ACTIVE for s in statuses.values())
    return {
        "steps": steps,
        "drawing": draw(steps, statuses),
        "live": task["status"] not in FINAL_STATUSES,
        "stoppable": active,
    }


@router.get("/experiments/{task_id}/pipeline", response_class=HTMLResponse)
def pipeline_tab(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    context = tab_context(conn, task_id, "pipeline")
    context.update(graph_context(conn, context["task"]))
    return render(request, "experiment/pipeline.html", context)


@router.get("/experiments/{task_id}/pipeline/graph", response_class=HTMLResponse)
def pipeline_graph(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    task = tasks.get_task(conn, task_id)
    context = {"task": task, **graph_context(conn, task)}
    return render(request, "experiment/_pipeline_graph.html", context)


@router.post("/experiments/{task_id}/pipeline/stop")
def stop_pipeline_run(
    task_id: str, request: Request, conn: Conn, who: Who, _wake: WakeWorkers
) -> Response:
    result = stop_pipeline(conn, who, task_id)
    message = f"Stopping the pipeline ({plural(len(result['stopped']), 'step')} asked to stop)"
    ids = [task_id, *result["stopped"]]
    return changed(request, ids, message, back_to=f"/experiments/{task_id}/pipeline")
