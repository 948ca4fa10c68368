"""Which way each metric improves, as a project sets it.

A direction set on a project holds for its sub-projects too, unless one of them sets its
own (the nearest project wins). A metric no project sets goes by its name
(``tunelab.domain.metric_direction.default_direction``). Compare's best values, the
experiments table's "best first" sort and an optimizer's default objective all read
``metric_direction`` / ``directions_for``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tunelab.domain.metric_direction import Direction, default_direction
from tunelab.errors import InvalidInput, NotFound
from tunelab.store.lookup import now
from tunelab.store.projects import ancestors_and_self
from tunelab.store.schema import metric_directions, projects

# As long as the names ``task_metrics`` keeps.
MAX_NAME_LENGTH = 512

MetricName = tuple[str, str]


@dataclass(frozen=True)
class MetricDirection:
    metric: str
    variant: str
    direction: Direction
    # The project whose setting this is (the one asked about or one above it); None when
    # no project sets it and the name decides.
    set_in: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "variant": self.variant,
            "direction": self.direction.value,
            "set_in": self.set_in,
        }


def parse_direction(text: str | None) -> Direction | None:
    """``lower``/``higher``; None, "" or ``default`` for "go by the name"."""
    if text is None or text in ("", "default"):
        return None
    try:
        return Direction(text)
    except ValueError:
        raise InvalidInput(
            f"invalid direction {text!r}: use lower, higher or default (by the name)"
        ) from None


def set_direction(
    conn: sa.Connection, project_id: str, metric: str, variant: str, direction: Direction | None
) -> None:
    """Set the metric's direction on the project; None takes the project's setting away."""
    _check_name("metric", metric)
    _check_name("variant", variant)
    if conn.execute(sa.select(projects.c.id).where(projects.c.id == project_id)).first() is None:
        raise NotFound(f"no project with id {project_id!r}")
    d = metric_directions.c
    conn.execute(
        metric_directions.delete().where(
            d.project_id == project_id, d.metric == metric, d.variant == variant
        )
    )
    if direction is not None:
        conn.execute(
            metric_directions.insert().values(
                project_id=project_id,
                metric=metric,
                variant=variant,
                direction=direction.value,
                updated=now(),
            )
        )


def set_directions(conn: sa.Connection, project_id: str) -> dict[MetricName, MetricDirection]:
    """Every direction that holds in the project because it or a project above it set it."""
    chain = _chain(conn, project_id)
    if not chain:
        raise NotFound(f"no project with id {project_id!r}")
    d = metric_directions.c
    rows = conn.execute(
        sa.select(d.project_id, d.metric, d.variant, d.direction).where(
            d.project_id.in_(list(chain))
        )
    ).all()
    depth = {pid: len(name) for pid, name in chain.items()}
    found: dict[MetricName, MetricDirection] = {}
    # Nearest last, so it overwrites what a project above it set.
    for row in sorted(rows, key=lambda r: depth[r.project_id]):
        found[row.metric, row.variant] = MetricDirection(
            row.metric, row.variant, Direction(row.direction), chain[row.project_id]
        )
    return found


def directions_for(
    conn: sa.Connection, project_id: str | None, names: Iterable[MetricName]
) -> dict[MetricName, MetricDirection]:
    """The direction of each metric named, in the project (set there or above, else by its
    name); with no project, by name alone."""
    wanted = list(dict.fromkeys(names))
    chosen = set_directions(conn, project_id) if project_id is not None else {}
    return {
        name: chosen.get(name) or MetricDirection(*name, default_direction(*name))
        for name in wanted
    }


def metric_direction(conn: sa.Connection, project_id: str, title: str, series: str) -> Direction:
    """Which way the metric ``title``/``series`` improves in the project: what the project
    (or one above it) sets, else what its name says. An optimizer's default objective."""
    return directions_for(conn, project_id, [(title, series)])[title, series].direction


def _chain(conn: sa.Connection, project_id: str) -> dict[str, str]:
    """``{id: name}`` of the project and every project above it; empty when it is unknown."""
    name = conn.execute(sa.select(projects.c.name).where(projects.c.id == project_id)).scalar()
    if name is None:
        return {}
    rows = conn.execute(
        sa.select(projects.c.id, projects.c.name).where(
            projects.c.name.in_(ancestors_and_self(name))
        )
    ).all()
    return {row.id: row.name for row in rows}


def _check_name(what: str, text: object) -> None:
    if not isinstance(text, str) or not text:
        raise InvalidInput(f"a metric direction needs a non-empty {what}")
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidInput(f"a {what} name is at most {MAX_NAME_LENGTH} characters")
