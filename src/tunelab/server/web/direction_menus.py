"""What the direction menus of the pages need: whether to offer changing a metric's
direction, and the direction of each metric column a table shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from tunelab.domain.access import Principal
from tunelab.errors import Forbidden
from tunelab.server import access
from tunelab.store import metric_directions
from tunelab.store.metric_directions import MetricDirection
from tunelab.store.task_columns import Column


def may_set(conn: sa.Connection, principal: Principal | None, project_name: str) -> bool:
    """Whether the menus offer to change directions: the project's editors may."""
    if principal is None:
        return False
    try:
        access.require_project(conn, principal, project_name, access.WRITE)
    except Forbidden:
        return False
    return True


def column_directions(
    conn: sa.Connection, project_id: str | None, columns: Sequence[Column]
) -> Mapping[str, MetricDirection]:
    """``{column key: direction}`` of a table's metric columns."""
    metric_columns = [c for c in columns if c.is_metric]
    found = metric_directions.directions_for(
        conn, project_id, [(c.metric, c.variant) for c in metric_columns]
    )
    return {c.key: found[c.metric, c.variant] for c in metric_columns}
