"""A pipeline run as the server reads it: the controller task's configuration object
``Pipeline`` (written by ``tunelab.pipelines`` as the run goes), with each step's parents,
task, status and, for a cached step, the task it reused.

The record is written by the pipeline's own script, so it is read defensively: a value of
the wrong shape is dropped, never trusted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

CONTROLLER_TYPE = "controller"
RECORD = "Pipeline"
STEP_STATUSES = (
    "pending",
    "queued",
    "running",
    "completed",
    "failed",
    "skipped",
    "cached",
    "stopped",
)
ACTIVE = frozenset({"queued", "running"})
# A controller in these statuses has not run yet: a clone's record is its source run's.
NOT_STARTED = frozenset({"draft", "queued"})
# A step task's own status, where it says more than the record's last pass did.
_FROM_TASK = {
    "queued": "queued",
    "running": "running",
    "completed": "completed",
    "published": "completed",
    "failed": "failed",
    "stopped": "stopped",
}


@dataclass(frozen=True)
class Step:
    name: str
    parents: tuple[str, ...]
    status: str
    task_id: str | None
    cached_from: str | None
    reason: str

    @property
    def link(self) -> str | None:
        """The experiment a click opens: the reused task for a cached step."""
        return self.cached_from or self.task_id


def pipeline_steps(task: Mapping[str, Any]) -> list[Step] | None:
    """The steps of a pipeline run, in the record's order; None when ``task`` (the API's
    Task) is not a controller or holds no readable record."""
    if task.get("type") != CONTROLLER_TYPE:
        return None
    entry = (task.get("configuration") or {}).get(RECORD)
    if not isinstance(entry, Mapping):
        return None
    try:
        body = json.loads(str(entry.get("text") or ""))
    except ValueError:
        return None
    found = body.get("steps") if isinstance(body, dict) else None
    if not isinstance(found, list):
        return None
    steps: list[Step] = []
    for raw in found:
        step = _step(raw)
        if step is not None and all(s.name != step.name for s in steps):
            steps.append(step)
    names = {s.name for s in steps}
    # A parent the record does not hold as a step is no edge to draw.
    return [replace(s, parents=tuple(p for p in s.parents if p in names)) for s in steps]


def _step(raw: Any) -> Step | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        return None
    parents = raw.get("parents")
    status = raw.get("status")
    return Step(
        name=raw["name"],
        parents=tuple(p for p in parents if isinstance(p, str))
        if isinstance(parents, list)
        else (),
        status=status if status in STEP_STATUSES else "pending",
        task_id=_text(raw.get("task_id")),
        cached_from=_text(raw.get("cached_from")),
        reason=_text(raw.get("reason")) or "",
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def live_status(step: Step, task_status: str | None) -> str:
    """The step's status now: the record's, moved on by its task's own status while the
    record still says queued or running (the controller writes it once per pass)."""
    if step.status in ACTIVE and task_status in _FROM_TASK:
        return _FROM_TASK[task_status]
    return step.status


def layers(steps: Sequence[Step]) -> dict[str, int]:
    """Each step's column: 0 for a step without parents, else one past its deepest parent.
    A cycle (a record no controller writes) puts the steps on it in column 0."""
    by_name = {s.name: s for s in steps}
    depth: dict[str, int] = {}

    def visit(name: str, path: frozenset[str]) -> int:
        if name in depth:
            return depth[name]
        if name in path:
            return 0
        parents = by_name[name].parents
        found = 1 + max((visit(p, path | {name}) for p in parents), default=-1)
        depth[name] = found
        return found

    for step in steps:
        visit(step.name, frozenset())
    return depth
