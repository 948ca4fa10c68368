"""Runs and experiments as MLflow reads them: tasks and projects looked up (with the
asker's access checked) and turned into MLflow's JSON (``mapping``), many runs in a handful
of queries."""

from __future__ import annotations

from collections.abc import Sequence
from math import nan
from typing import Any

import sqlalchemy as sa

from tunelab.domain.access import Principal
from tunelab.errors import NotFound
from tunelab.server import access
from tunelab.server.mlflow import mapping
from tunelab.server.mlflow.messages import json_double
from tunelab.store import scalars
from tunelab.store.projects import project_id_by_name
from tunelab.store.schema import projects, task_params, task_properties, tasks
from tunelab.store.tasks import summaries


def project_row(conn: sa.Connection, experiment_id: str) -> dict[str, Any] | None:
    """The project an experiment id names; None when there is none."""
    query = sa.select(projects)
    if experiment_id == mapping.DEFAULT_EXPERIMENT_ID:
        query = query.where(projects.c.name == mapping.DEFAULT_PROJECT)
    else:
        query = query.where(projects.c.id == experiment_id)
    row = conn.execute(query).first()
    return dict(row._mapping) if row is not None else None


def readable_project(
    conn: sa.Connection, who: Principal, experiment_id: str, need: Any = access.READ
) -> dict[str, Any]:
    """The experiment's project, once ``who`` may read (or ``need``) it; NotFound else."""
    found = project_row(conn, experiment_id)
    if found is None:
        raise NotFound(f"No Experiment with id={experiment_id} exists")
    access.require_project(conn, who, found["name"], need)
    return found


def project_by_name(conn: sa.Connection, who: Principal, name: str) -> dict[str, Any]:
    project_id = project_id_by_name(conn, mapping.project_name(name))
    if project_id is None:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return readable_project(conn, who, project_id)


def run(conn: sa.Connection, who: Principal, run_id: str) -> dict[str, Any]:
    """``{"info", "data", "inputs", "outputs"}`` of a run ``who`` may read."""
    require_run(conn, who, run_id, access.READ)
    return runs(conn, [run_id])[0]


def require_run(conn: sa.Connection, who: Principal, run_id: str, need: Any) -> None:
    try:
        access.require_task(conn, who, run_id, need)
    except NotFound:
        raise NotFound(f"Run '{run_id}' not found") from None


def runs(conn: sa.Connection, task_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The runs of ``task_ids`` in that order (ids that exist)."""
    if not task_ids:
        return []
    rows = conn.execute(sa.select(tasks).where(tasks.c.id.in_(list(task_ids)))).all()
    by_id = {row.id: row for row in rows}
    ordered = [by_id[i] for i in task_ids if i in by_id]
    params = _params(conn, [row.id for row in ordered])
    properties = _properties(conn, [row.id for row in ordered])
    metrics = scalars.read_summaries(conn, [row.id for row in ordered])
    found = []
    for row, task in zip(ordered, summaries(conn, ordered), strict=True):
        project = task["project"]
        experiment_id = mapping.experiment_id_of(project["id"], project["name"])
        found.append(
            {
                "info": mapping.run_info(task, experiment_id),
                "data": {
                    "metrics": _run_metrics(metrics[row.id]),
                    "params": params.get(row.id, []),
                    "tags": mapping.run_tags(task, row.execution or {}, properties.get(row.id, {})),
                },
                "inputs": {},
                "outputs": {},
            }
        )
    return found


def _params(conn: sa.Connection, task_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    p = task_params.c
    found: dict[str, list[dict[str, str]]] = {}
    query = (
        sa.select(p.task_id, p.section, p.name, p.value)
        .where(p.task_id.in_(task_ids))
        .order_by(p.task_id, p.section, p.name)
    )
    for task_id, section, name, value in conn.execute(query):
        found.setdefault(task_id, []).append(
            {"key": mapping.param_key(section, name), "value": value}
        )
    return found


def _properties(conn: sa.Connection, task_ids: list[str]) -> dict[str, dict[str, str]]:
    p = task_properties.c
    found: dict[str, dict[str, str]] = {}
    query = sa.select(p.task_id, p.name, p.value).where(p.task_id.in_(task_ids))
    for task_id, name, value in conn.execute(query):
        found.setdefault(task_id, {})[name] = value
    return found


def _run_metrics(series: dict[str, dict[str, scalars.Summary]]) -> list[dict[str, Any]]:
    """Each series' latest point (at its greatest step), as MLflow's latest metric."""
    found = []
    for title, by_series in series.items():
        for name, summary in by_series.items():
            if summary.last_iter is None:
                continue
            found.append(
                {
                    "key": mapping.metric_key(title, name),
                    # A NaN or infinite last value is stored as unknown: read back as NaN.
                    "value": summary.last if summary.last is not None else json_double(nan),
                    "timestamp": mapping.millis(summary.last_time) or 0,
                    "step": summary.last_iter,
                }
            )
    return sorted(found, key=lambda m: m["key"])
