"""Starting and stopping an optimizer from the web app.

"Optimize…" on an experiment's page posts a form; ``spec_from_form`` reads it into the spec
``HyperParameterOptimizer`` records (each range typed by the parameter's stored type: an
``int`` parameter searches ints, a ``str`` one a choice of texts), and ``launch`` creates a
draft task of type ``optimizer`` in the experiment's project whose code is
``tunelab.automation.run_optimizer`` (its script's text, no repository) and whose
``optimizer`` configuration object is the spec, then enqueues it on the queue the user
chose for controllers. An agent runs it; its key may clone, enqueue and stop the trials in
that project (``server.access``), as the user who enqueued it could.

``stop`` stops the optimizer and each of its trials still queued or running: the
optimizer's own process may be gone with its agent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from starlette.datastructures import FormData

from tunelab.automation.objective import SIGNS
from tunelab.automation.report import CONFIGURATION_NAME
from tunelab.automation.run_optimizer import ENTRY_POINT, SCRIPT, STRATEGIES
from tunelab.automation.trials import optimizer_tag
from tunelab.domain.access import Principal
from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict, InvalidInput
from tunelab.server import access
from tunelab.store import lifecycle, tasks
from tunelab.store.schema import task_tags
from tunelab.store.schema import tasks as tasks_table

# The kinds of range each stored parameter type may be searched with (the first is offered).
KINDS_BY_TYPE = {
    "int": ("int", "choice"),
    "float": ("uniform", "loguniform", "choice"),
}
CHOICE_ONLY = ("choice",)
ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value)
MAX_TRIALS = 10_000
REASON = "optimizer stopped"


def kinds_for(param_type: str) -> tuple[str, ...]:
    return KINDS_BY_TYPE.get(param_type, CHOICE_ONLY)


def parameters_of(task: Mapping[str, Any]) -> list[dict[str, str]]:
    """The experiment's hyperparameters: ``name`` (``Section/key``), ``type``, ``value``."""
    found = []
    for section, params in sorted((task.get("hyperparameters") or {}).items()):
        for key, body in sorted(params.items()):
            found.append({"name": f"{section}/{key}", "type": str(body.get("type") or "str"),
                          "value": str(body.get("value", ""))})  # fmt: skip
    return found


def spec_from_form(
    task: Mapping[str, Any], metrics: Mapping[str, Any], form: FormData
) -> tuple[dict[str, Any], str]:
    """The optimizer's spec and the queue its own task goes to. InvalidInput names the field
    that is wrong."""
    types = {p["name"]: p["type"] for p in parameters_of(task)}
    chosen = [str(v) for v in form.getlist("param")]
    if not chosen:
        raise InvalidInput("pick at least one hyperparameter to search")
    ranges = [_range(name, types, form) for name in chosen]
    title, series = _objective(form, metrics)
    sign = str(form.get("sign") or "min")
    if sign not in SIGNS:
        raise InvalidInput(f"sign: one of {', '.join(SIGNS)}")
    strategy = str(form.get("strategy") or "random")
    if strategy not in STRATEGIES:
        raise InvalidInput(f"strategy: one of {', '.join(STRATEGIES)}")
    queue = _text(form, "queue", "the queue the trials go to")
    controller_queue = _text(form, "controller_queue", "the queue the optimizer runs from")
    spec: dict[str, Any] = {
        "base_task_id": task["id"],
        "hyper_parameters": ranges,
        "objective": {"title": title, "series": series, "sign": sign},
        "optimizer_class": STRATEGIES[strategy],
        "optimizer_kwargs": {},
        "max_number_of_concurrent_tasks": _int(form, "concurrency", 1, 1000, 2),
        "execution_queue": queue,
        "total_max_jobs": _int(form, "total", 1, MAX_TRIALS, 10),
        "optimization_time_limit": _minutes(form, "optimization_time_limit"),
        "time_limit_per_job": _minutes(form, "time_limit_per_job"),
        "poll_seconds": _seconds(form, "poll_seconds"),
    }
    return spec, controller_queue


def launch(
    conn: sa.Connection, who: Principal, base: Mapping[str, Any], spec: Mapping[str, Any],
    queue: str,
) -> dict[str, Any]:  # fmt: skip
    """Create the optimizer's task beside ``base`` and enqueue it on ``queue``."""
    project = str(base["project"]["name"])
    access.require_create_in(conn, who, project)
    body = {"type": "dictionary", "text": json.dumps(spec, indent=2),
            "description": "hyperparameter optimization"}  # fmt: skip
    needs = "optuna\n" if spec["optimizer_class"] == "OptimizerOptuna" else ""
    task = tasks.create_task(
        conn,
        name=f"Optimizer: {base['name']}"[:255],
        project=project,
        type="optimizer",
        user=who.name or "",
        execution={"entry_point": ENTRY_POINT, "diff": SCRIPT, "requirements": needs},
        configuration={CONFIGURATION_NAME: body},
    )
    return lifecycle.enqueue(conn, str(task["id"]), queue, who.user_id)


def stop(conn: sa.Connection, who: Principal, optimizer_id: str) -> list[str]:
    """Stop the optimizer and its active trials; answers the ids asked to stop."""
    task = tasks.get_task(conn, optimizer_id)
    if task["type"] != "optimizer":
        raise Conflict(f"task {optimizer_id} is not an optimizer")
    stopped = []
    if task["status"] in ACTIVE:
        lifecycle.stop(conn, optimizer_id, REASON)
        stopped.append(optimizer_id)
    for trial_id in trial_ids(conn, optimizer_id, active_only=True):
        access.require_task(conn, who, trial_id, access.WRITE)
        lifecycle.stop(conn, trial_id, REASON)
        stopped.append(trial_id)
    return stopped


def trial_ids(conn: sa.Connection, optimizer_id: str, *, active_only: bool = False) -> list[str]:
    """The tasks tagged as this optimizer's trials, oldest first."""
    t, tag = tasks_table.c, task_tags.c
    query = (
        sa.select(t.id)
        .join(task_tags, tag.task_id == t.id)
        .where(tag.tag == optimizer_tag(optimizer_id))
        .order_by(t.created, t.id)
    )
    if active_only:
        query = query.where(t.status.in_(ACTIVE))
    return list(conn.execute(query).scalars())


# ----- fields ---------------------------------------------------------------------------


def _range(name: str, types: Mapping[str, str], form: FormData) -> dict[str, Any]:
    if name not in types:
        raise InvalidInput(f"{name!r} is not a hyperparameter of this experiment")
    kind = str(form.get(f"kind:{name}") or kinds_for(types[name])[0])
    if kind not in kinds_for(types[name]):
        allowed = ", ".join(kinds_for(types[name]))
        raise InvalidInput(f"{name}: a parameter of type {types[name]} is searched with {allowed}")
    if kind == "choice":
        text = str(form.get(f"values:{name}") or "")
        values = [_typed(v.strip(), types[name], name) for v in text.split(",") if v.strip()]
        if not values:
            raise InvalidInput(f"{name}: give the values to choose from, separated by commas")
        return {"type": "DiscreteParameterRange", "name": name, "values": values}
    cast = int if kind == "int" else float
    low = _number(form, f"min:{name}", cast, f"{name}: min")
    high = _number(form, f"max:{name}", cast, f"{name}: max")
    if low is None or high is None or not low < high:
        raise InvalidInput(f"{name}: give a min below the max")
    step = _number(form, f"step:{name}", cast, f"{name}: step")
    if step is not None and step <= 0:
        raise InvalidInput(f"{name}: the step must be above 0")
    if kind == "int":
        return {"type": "UniformIntegerParameterRange", "name": name, "min_value": low,
                "max_value": high, "step_size": step or 1, "include_max_value": True}  # fmt: skip
    if kind == "loguniform":
        if low <= 0 or step is not None:
            raise InvalidInput(f"{name}: a log-uniform range is above 0 and has no step")
        return {"type": "LogUniformParameterRange", "name": name, "min_value": math.log10(low),
                "max_value": math.log10(high), "base": 10, "step_size": None,
                "include_max_value": True}  # fmt: skip
    return {"type": "UniformParameterRange", "name": name, "min_value": low, "max_value": high,
            "step_size": step, "include_max_value": True}  # fmt: skip


def _typed(text: str, param_type: str, name: str) -> Any:
    try:
        if param_type == "int":
            return int(text)
        if param_type == "float":
            return float(text)
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not a {param_type}") from None
    if param_type == "bool":
        if text.lower() not in ("true", "false"):
            raise InvalidInput(f"{name}: {text!r} is not true or false")
        return text.lower() == "true"
    return text


def _objective(form: FormData, metrics: Mapping[str, Any]) -> tuple[str, str]:
    try:
        title, series = json.loads(str(form.get("objective") or ""))
    except (ValueError, TypeError):
        raise InvalidInput("objective: pick one of the experiment's metrics") from None
    if not isinstance(title, str) or series not in (metrics.get(title) or {}):
        raise InvalidInput("objective: pick one of the experiment's metrics")
    return title, str(series)


def _text(form: FormData, field: str, what: str) -> str:
    value = str(form.get(field) or "").strip()
    if not value or len(value) > 255:
        raise InvalidInput(f"{field}: name {what}")
    return value


def _number(form: FormData, field: str, cast: type, what: str) -> Any:
    text = str(form.get(field) or "").strip()
    if not text:
        return None
    try:
        value = cast(text)
    except ValueError:
        raise InvalidInput(f"{what}: {text!r} is not a number of the parameter's type") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{what}: {text!r} is not a finite number")
    return value


def _int(form: FormData, field: str, low: int, high: int, default: int) -> int:
    value = _number(form, field, int, field)
    if value is None:
        return default
    if not low <= value <= high:
        raise InvalidInput(f"{field}: between {low} and {high}")
    return int(value)


def _minutes(form: FormData, field: str) -> float | None:
    value = _number(form, field, float, field)
    if value is not None and value <= 0:
        raise InvalidInput(f"{field}: minutes above 0, or empty for no limit")
    return None if value is None else float(value)


def _seconds(form: FormData, field: str) -> float | None:
    value = _number(form, field, float, field)
    if value is not None and not 0.1 <= value <= 3600:
        raise InvalidInput(f"{field}: seconds between 0.1 and 3600")
    return None if value is None else float(value)
