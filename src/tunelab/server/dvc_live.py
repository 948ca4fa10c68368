"""DVCLive's live metrics, as DVC Studio receives them (``POST /api/live``), recorded as tasks.

DVCLive (through ``dvc-studio-client``) sends three kinds of event for one experiment, named
by ``(baseline_sha, name)``:

- ``start``: a running task named ``name`` in the project linked to ``repo_url`` (or a
  project named after the repository), its execution the repository at ``baseline_sha``;
- ``data``: the metrics at ``step`` become scalars, the params hyperparameters (section
  ``DVC``); a metric ``train/loss`` is the scalar titled ``train``, series ``loss``, and a
  top-level ``acc`` the scalar ``acc``/``acc``. The points of DVCLive's metric plots
  (``…/plots/metrics/<name>.tsv``) fill any step whose event was lost;
- ``done``: the task completes, or fails when the event carries errors.

An event sent with a task's key (a run an agent started with ``DVC_STUDIO_TOKEN`` set to the
task's key) records its data on that task, and leaves its status to the agent.

DVCLive resends an event it got no answer to, and sends again the plot points of a step the
server may already have: a point at or before the last step stored for its series is
dropped, so every step is stored once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from tunelab.domain.access import Principal
from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.sdk.parameters import param_body
from tunelab.server import access
from tunelab.store import scalars, task_inputs, tasks
from tunelab.store.lookup import now
from tunelab.store.projects import validate_path
from tunelab.store.repositories import all_repositories
from tunelab.store.schema import projects
from tunelab.store.schema import tasks as tasks_table

HYPERPARAMETER_SECTION = "DVC"
TAG = "dvclive"
# What a project is called when no project links the repository and its name is unusable.
FALLBACK_PROJECT = "DVCLive"
_PLOT_METRICS = re.compile(r"(?:^|/)plots/metrics/(.+)\.(?:tsv|csv|json)$")


@dataclass(frozen=True)
class LiveEvent:
    """One event as DVCLive sent it (``server.api.dvc_live`` checked its shape)."""

    type: str
    repo_url: str
    baseline_sha: str
    name: str
    step: int | None
    message: str
    metrics: Mapping[str, Any]
    params: Mapping[str, Any]
    plots: Mapping[str, Any]
    errors: list[str]


def record(conn: sa.Connection, who: Principal, event: LiveEvent) -> dict[str, Any]:
    """Apply one event; answers ``{"task_id", "status"}``."""
    if who.task is not None:
        return _record_on_own_task(conn, who.task.task_id, event)
    project = project_for(conn, event.repo_url)
    found = _latest_task(conn, project, event)
    if found is not None:
        access.require_task(conn, who, found[0], access.WRITE)
    task_id, status = found if found is not None else (None, None)
    if event.type == "start" and status is not TaskStatus.RUNNING:
        task_id, status = _start(conn, who, project, event), TaskStatus.RUNNING
    elif event.type == "data":
        if task_id is None:  # its start was lost: the run began all the same
            task_id, status = _start(conn, who, project, event), TaskStatus.RUNNING
        elif status is not TaskStatus.RUNNING:
            raise Conflict(f"experiment {event.name!r} is {status}, not running: no more data")
        assert task_id is not None
        _store_data(conn, task_id, event)
    elif event.type == "done":
        if task_id is None:
            raise NotFound(f"no experiment {event.name!r} from commit {event.baseline_sha}")
        if status is TaskStatus.RUNNING:
            status = TaskStatus.FAILED if event.errors else TaskStatus.COMPLETED
            tasks.update_task(
                conn,
                task_id,
                {"status": status.value, "status_reason": "; ".join(event.errors)[:1024]},
                by_run=True,
            )
    return {"task_id": task_id, "status": status.value if status else None}


def _record_on_own_task(conn: sa.Connection, task_id: str, event: LiveEvent) -> dict[str, Any]:
    """An event sent with a task's key (DVCLive inside a run an agent started, its
    ``DVC_STUDIO_TOKEN`` the task's key): its data goes on that task, whatever experiment
    name DVCLive chose; its start and end are the agent's to record."""
    status = TaskStatus(tasks.get_task(conn, task_id)["status"])
    if event.type == "data":
        if status is not TaskStatus.RUNNING:
            raise Conflict(f"the task is {status}, not running: no more data")
        _store_data(conn, task_id, event)
    return {"task_id": task_id, "status": status.value}


def project_for(conn: sa.Connection, repo_url: str) -> str:
    """The project the repository's experiments go to: the one linked to it, else one named
    after the repository (``…/org/model.git`` -> ``model``)."""
    wanted = _comparable(repo_url)
    linked = [r["project_id"] for r in all_repositories(conn) if _comparable(r["url"]) == wanted]
    if linked:
        names = conn.execute(
            sa.select(projects.c.name).where(projects.c.id.in_(linked)).order_by(projects.c.name)
        ).scalars()
        return str(next(iter(names)))
    name = wanted.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    try:
        return validate_path(name)
    except InvalidInput:
        return FALLBACK_PROJECT


def _comparable(url: str) -> str:
    """``https://host/org/repo.git/`` and ``https://host/org/repo`` are one repository."""
    url = url.strip().rstrip("/")
    return url[: -len(".git")] if url.endswith(".git") else url


def _latest_task(
    conn: sa.Connection, project: str, event: LiveEvent
) -> tuple[str, TaskStatus] | None:
    """The newest task of this experiment (same name, same baseline commit) in ``project``."""
    t = tasks_table.c
    rows = conn.execute(
        sa.select(t.id, t.status, t.execution)
        .join(projects, projects.c.id == t.project_id)
        .where(projects.c.name == project, t.name == event.name)
        .order_by(t.created.desc())
    )
    for row in rows:
        execution = row.execution or {}
        if execution.get("commit") == event.baseline_sha and TAG in tasks.tags_by_task(
            conn, [row.id]
        ).get(row.id, []):
            return row.id, TaskStatus(row.status)
    return None


def _start(conn: sa.Connection, who: Principal, project: str, event: LiveEvent) -> str:
    new_root = access.require_create_in(conn, who, project)
    task = tasks.create_task(
        conn,
        name=event.name,
        project=project,
        status=TaskStatus.RUNNING.value,
        tags=[TAG],
        comment=event.message,
        user=who.name or "",
        execution={"repository": event.repo_url, "commit": event.baseline_sha},
    )
    if new_root:
        access.grant_new_project(conn, who, new_root)
    task_id: str = task["id"]
    return task_id


def _store_data(conn: sa.Connection, task_id: str, event: LiveEvent) -> None:
    params = {
        key: param_body(value)
        for values in event.params.values()
        if isinstance(values, Mapping)
        for key, value in _flatten(values, ".").items()
    }
    if params:
        task_inputs.merge_inputs(
            conn, task_id, "hyperparameters", {HYPERPARAMETER_SECTION: params}, by_run=True
        )
    points = _points(event)
    stored = scalars.read_summaries(conn, [task_id])[task_id]
    series: list[scalars.SeriesPoints] = []
    stamp = now()
    for (metric, variant), by_step in points.items():
        summary = stored.get(metric, {}).get(variant)
        after = summary.last_iter if summary is not None and summary.last_iter is not None else -1
        steps = sorted(step for step in by_step if step > after)
        if steps:
            series.append(
                scalars.SeriesPoints(
                    metric=metric,
                    variant=variant,
                    iterations=np.array(steps, dtype=np.int64),
                    values=np.array([by_step[s] for s in steps], dtype=np.float64),
                    timestamps=np.full(len(steps), stamp, dtype=np.float64),
                )
            )
    if series:
        scalars.ingest_batch(conn, task_id, scalars.ScalarBatch(series, _batch_id(event)))


def _points(event: LiveEvent) -> dict[tuple[str, str], dict[int, float]]:
    """``{(title, series): {step: value}}`` from the event's metrics and metric plots."""
    found: dict[tuple[str, str], dict[int, float]] = {}
    for path, plot in event.plots.items():
        named = _PLOT_METRICS.search(path)
        if named is None or not isinstance(plot, Mapping):
            continue
        name = named.group(1)
        column = name.rsplit("/", 1)[-1]
        for row in plot.get("data") or []:
            if isinstance(row, Mapping):
                _add(found, name, row.get("step"), row.get(column))
    if event.step is not None:
        for content in event.metrics.values():
            data = content.get("data") if isinstance(content, Mapping) else None
            if isinstance(data, Mapping):
                for name, value in _flatten(data, "/").items():
                    _add(found, name, event.step, value)
    return found


def _add(found: dict[tuple[str, str], dict[int, float]], name: str, step: Any, value: Any) -> None:
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        return
    number = _number(value)
    if number is not None:
        found.setdefault(_title_series(name), {})[step] = number


def _number(value: Any) -> float | None:
    """A metric's value; DVCLive sends NaN and infinities as text ("nan", "inf")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("nan", "inf", "-inf", "+inf"):
        return float(value)
    return None


def _title_series(name: str) -> tuple[str, str]:
    title, _, series = name.rpartition("/")
    return (title, series) if title else (name, name)


def _flatten(data: Mapping[str, Any], sep: str, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, sep, f"{name}{sep}"))
        else:
            flat[name] = value
    return flat


def _batch_id(event: LiveEvent) -> str:
    """The same event sent twice is one batch (two resends racing each other)."""
    body = json.dumps(
        [event.repo_url, event.baseline_sha, event.name, event.step, event.metrics, event.plots],
        sort_keys=True,
        default=str,
    )
    return "dvclive:" + hashlib.sha256(body.encode()).hexdigest()[:40]
