"""What MLflow's things are in Tunelab, both ways (pure functions, no I/O).

- An experiment is a project; experiment ``0`` (MLflow's "Default") is the project
  ``MLflow Default``. Any other experiment's id is its project's id.
- A run is a task (its id the task's); its status maps as ``RUNNING`` running, ``FINISHED``
  completed (or published), ``FAILED`` failed, ``KILLED`` stopped, ``SCHEDULED`` draft or
  queued; ``start_time``/``end_time`` (milliseconds) are the task's started/completed.
- A param is a hyperparameter of section ``MLflow``, typed as its text parses (``"64"``
  int, ``"0.1"`` float, ``"True"`` bool, anything else str). Hyperparameters of other
  sections (a task the SDK recorded) read as ``section/name``.
- A metric is a scalar: the key's last ``/`` splits title from series (``train/loss``:
  ``train`` / ``loss``); a key without ``/`` is its own title and series (``acc`` / ``acc``),
  as the TensorBoard capture names a scalar tag. Read back, ``title/series`` is the key, and
  a title equal to its series is the key alone.
- A tag is, by key: ``mlflow.runName`` the task's name, ``mlflow.note.content`` its comment,
  ``mlflow.user`` its user, ``mlflow.parentRunId`` its parent, ``mlflow.source.name`` /
  ``.git.commit`` / ``.git.repoURL`` / ``.git.branch`` its execution's entry point, commit,
  repository and branch; any other tag with a value is a user property (key = value), and a
  tag with an empty value is a plain Tunelab tag (a label), so Tunelab's own tags read as
  MLflow tags with an empty value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tunelab.domain.task import TaskStatus

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
DEFAULT_PROJECT = "MLflow Default"
PARAM_SECTION = "MLflow"

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")

_TO_TASK = {
    "RUNNING": TaskStatus.RUNNING,
    "FINISHED": TaskStatus.COMPLETED,
    "FAILED": TaskStatus.FAILED,
    "KILLED": TaskStatus.STOPPED,
}
_TO_RUN = {
    TaskStatus.DRAFT: "SCHEDULED",
    TaskStatus.QUEUED: "SCHEDULED",
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.COMPLETED: "FINISHED",
    TaskStatus.PUBLISHED: "FINISHED",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.STOPPED: "KILLED",
}

# Tags that are task fields rather than user properties.
RUN_NAME = "mlflow.runName"
NOTE = "mlflow.note.content"
USER = "mlflow.user"
PARENT = "mlflow.parentRunId"
SOURCE_TAGS = {
    "mlflow.source.name": "entry_point",
    "mlflow.source.git.commit": "commit",
    "mlflow.source.git.repoURL": "repository",
    "mlflow.source.git.branch": "branch",
}

_INT = re.compile(r"[+-]?\d+")
_BOOLS = frozenset({"true", "false"})


def task_status(run_status: str) -> TaskStatus | None:
    """The task status a run status sets; None for ``SCHEDULED`` (nothing to set)."""
    return _TO_TASK.get(run_status)


def run_status(task_status: str) -> str:
    return _TO_RUN[TaskStatus(task_status)]


def task_statuses(run_status: str) -> list[str]:
    """The task statuses a run status stands for (a search by status)."""
    return sorted(s.value for s, r in _TO_RUN.items() if r == run_status)


def param_type(value: str) -> str:
    """The Python type a param's text reads as: int, float, bool or str."""
    text = value.strip()
    if _INT.fullmatch(text):
        return "int"
    if text.lower() in _BOOLS:
        return "bool"
    try:
        float(text)
    except ValueError:
        return "str"
    return "float" if text.lower() not in ("nan", "inf", "-inf", "+inf", "infinity") else "str"


def param_key(section: str, name: str) -> str:
    return name if section == PARAM_SECTION else f"{section}/{name}"


def param_places(key: str) -> list[tuple[str, str]]:
    """The (section, name) pairs a param key may name: its own in ``MLflow``, or, for
    ``a/b``, the hyperparameter ``b`` of section ``a``."""
    places = [(PARAM_SECTION, key)]
    section, _, name = key.partition("/")
    if name and section != PARAM_SECTION:
        places.append((section, name))
    return places


def metric_names(key: str) -> tuple[str, str]:
    """(title, series) of a metric key."""
    title, _, series = key.rpartition("/")
    return (title, series) if title and series else (key, key)


def metric_key(title: str, series: str) -> str:
    return title if title == series else f"{title}/{series}"


def millis(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


@dataclass(frozen=True)
class TagWrites:
    """Where a set of tags goes on a task."""

    fields: dict[str, str]  # task field -> value (name, comment, user, parent)
    execution: dict[str, str]  # execution field -> value
    labels: list[str]
    properties: dict[str, str]


def sort_tags(tags: Mapping[str, str]) -> TagWrites:
    fields = {"name": RUN_NAME, "comment": NOTE, "user": USER, "parent": PARENT}
    by_tag = {tag: field for field, tag in fields.items()}
    found = TagWrites({}, {}, [], {})
    for key, value in tags.items():
        if key in by_tag:
            found.fields[by_tag[key]] = value
        elif key in SOURCE_TAGS:
            found.execution[SOURCE_TAGS[key]] = value
        elif value == "":
            found.labels.append(key)
        else:
            found.properties[key] = value
    return found


def run_tags(
    task: Mapping[str, Any], execution: Mapping[str, Any], properties: Mapping[str, str]
) -> list[dict[str, str]]:
    """A task's tags as MLflow's: its labels, user properties and the fields tags name."""
    tags = {label: "" for label in task["tags"]}
    tags.update(properties)
    tags[RUN_NAME] = task["name"]
    for tag, value in (
        (USER, task["user"]),
        (NOTE, task["comment"]),
        (PARENT, task["parent"]),
        *((tag, execution.get(field)) for tag, field in SOURCE_TAGS.items()),
    ):
        if value:
            tags[tag] = str(value)
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


def run_info(task: Mapping[str, Any], experiment_id: str) -> dict[str, Any]:
    started = task["started"] if task["started"] is not None else task["created"]
    info: dict[str, Any] = {
        "run_id": task["id"],
        "run_uuid": task["id"],
        "run_name": task["name"],
        "experiment_id": experiment_id,
        "user_id": task["user"],
        "status": run_status(task["status"]),
        "start_time": millis(started),
        # Proxied through this server (``server.mlflow.artifacts``).
        "artifact_uri": f"mlflow-artifacts:/{experiment_id}/{task['id']}/artifacts",
        "lifecycle_stage": "deleted" if task["archived"] else "active",
    }
    if task["completed"] is not None:
        info["end_time"] = millis(task["completed"])
    return info


def experiment_id_of(project_id: str, project_name: str) -> str:
    return DEFAULT_EXPERIMENT_ID if project_name == DEFAULT_PROJECT else project_id


def experiment(project: Mapping[str, Any]) -> dict[str, Any]:
    """A project as an MLflow experiment; its description is the ``mlflow.note.content`` tag."""
    name = project["name"]
    found: dict[str, Any] = {
        "experiment_id": experiment_id_of(project["id"], name),
        "name": DEFAULT_EXPERIMENT_NAME if name == DEFAULT_PROJECT else name,
        "artifact_location": "",
        "lifecycle_stage": "active",
        "creation_time": millis(project["created"]),
        "last_update_time": millis(project["last_update"]),
        "tags": [],
    }
    if project.get("description"):
        found["tags"] = [{"key": NOTE, "value": project["description"]}]
    return found


def project_name(experiment_name: str) -> str:
    return DEFAULT_PROJECT if experiment_name == DEFAULT_EXPERIMENT_NAME else experiment_name
