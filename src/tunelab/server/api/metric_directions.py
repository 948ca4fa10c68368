"""Which way each metric of a project improves: anyone who reads the project sees the
directions, its editors set them (the gate checks both by the path's project).

A direction set on a project holds for the projects under it unless one sets its own; a
metric none sets goes by its name (loss, error, rmse... lower; anything else higher).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import Field, StringConstraints

from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.task_models import _Body
from tunelab.store import metric_directions, projects, task_columns

router = APIRouter(tags=["projects"])

MetricText = Annotated[
    str, StringConstraints(min_length=1, max_length=metric_directions.MAX_NAME_LENGTH)
]


class DirectionChange(_Body):
    metric: MetricText
    variant: MetricText
    # None: take the project's setting away, so the name (or a project above) decides.
    direction: Literal["lower", "higher"] | None


class DirectionChanges(_Body):
    directions: Annotated[list[DirectionChange], Field(max_length=500)]


@router.get("/projects/{project_id}/metric-directions")
def list_metric_directions(project_id: str, conn: Conn, who: Who) -> dict[str, Any]:
    """Each metric's direction in the project: those it or a project above it sets
    (``set_in`` names which), and those of the metrics its tasks report (``set_in`` null:
    by the name)."""
    project = projects.get_project(conn, project_id)
    chosen = metric_directions.set_directions(conn, project_id)
    offer = task_columns.columns_on_offer(conn, project["name"], access.visible_projects(conn, who))
    found = metric_directions.directions_for(conn, project_id, [*chosen, *offer.metrics])
    items = [found[name].as_dict() for name in sorted(found)]
    return {"items": items}


@router.put("/projects/{project_id}/metric-directions")
def set_metric_directions(
    project_id: str, body: DirectionChanges, conn: Conn, who: Who
) -> dict[str, Any]:
    """Set the direction of each metric listed (null: back to the default); the others stay
    as they are. Answers what GET does."""
    projects.get_project(conn, project_id)
    for change in body.directions:
        metric_directions.set_direction(
            conn,
            project_id,
            change.metric,
            change.variant,
            metric_directions.parse_direction(change.direction),
        )
    return list_metric_directions(project_id, conn, who)
