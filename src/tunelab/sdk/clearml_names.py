"""ClearML's names on ``Task`` that Tunelab answers differently, and its task types.

A script written for ClearML keeps running where Tunelab has the same meaning under the same
name. Where it has not, the name raises ``NotImplementedError`` that says what to use instead,
rather than an ``AttributeError`` that reads like a typo::

    task.get_status()
    NotImplementedError: Task.get_status is ClearML's; in Tunelab use task.status
"""

from __future__ import annotations

import enum
from typing import Any

from tunelab.domain.task import TaskType


class TaskTypes(enum.StrEnum):
    """``Task.TaskTypes``: the task types, named as ClearML names them
    (``Task.init(..., task_type=Task.TaskTypes.testing)``)."""

    training = TaskType.TRAINING.value
    testing = TaskType.TESTING.value
    inference = TaskType.INFERENCE.value
    data_processing = TaskType.DATA_PROCESSING.value
    optimizer = TaskType.OPTIMIZER.value
    controller = TaskType.CONTROLLER.value
    custom = TaskType.CUSTOM.value


# ClearML Task names scripts use, and what does the same here.
ALTERNATIVES: dict[str, str] = {
    "get_status": "task.status",
    "wait_for_status": "a loop reading task.status",
    "mark_completed": "task.close()",
    "mark_started": "Task.init(), which starts the run",
    "get_archived": "task.export_task()['archived']",
    "set_archived": "task.archive() or task.unarchive()",
    "get_models": "task.models",
    "get_registered_artifacts": "task.artifacts",
    "get_reported_console_output": "task.get_console_output()",
    "get_output_log_web_page": "the link Task.init prints",
    "set_parent": "Task.clone(source, parent=...)",
    "create": "Task.init() for a run, or Task.clone() for a draft",
    "set_base_docker": "the execution's docker_image (PATCH /api/v1/tasks/{id})",
    "set_repo": "the execution's repository (PATCH /api/v1/tasks/{id})",
    "set_script": "the execution's fields (PATCH /api/v1/tasks/{id})",
    "set_packages": "the execution's requirements (PATCH /api/v1/tasks/{id})",
    "connect_label_enumeration": "task.set_user_properties()",
    "set_progress": "task.set_user_properties(progress=...)",
    "get_last_iteration": "task.get_last_scalar_metrics()",
    "set_initial_iteration": "the iteration passed to report_scalar",
    "set_system_tags": "task.set_tags()",
    "get_system_tags": "task.get_tags()",
    "get_offline_mode_folder": "the folder Task.init prints in offline mode",
    "set_resource_monitor_iteration_timeout": (
        "Task.init(auto_resource_monitoring={'wait_for_first_iteration_to_start_sec': ...})"
    ),
    "move_to_project": "Task.clone(source, project=...)",
    "get_debug_samples": "the task's page in the web app",
    "launch_multi_node": "one task per node, each enqueued with Task.enqueue()",
}


class ClearMLName(NotImplementedError, AttributeError):
    """A ClearML name Tunelab does not offer. An AttributeError too, so ``hasattr`` and
    ``getattr(task, name, default)`` read it as absent, as they would on any other name."""


def missing_attribute(owner: str, name: str, *, of_class: bool = False) -> Exception:
    """What ``getattr`` raises for ``name``: ClearMLName naming the alternative for a ClearML
    name, AttributeError for any other. ``of_class``: looked up on the class itself."""
    alternative = ALTERNATIVES.get(name)
    if alternative is None:
        what = f"type object {owner!r}" if of_class else f"{owner!r} object"
        return AttributeError(f"{what} has no attribute {name!r}")
    return ClearMLName(f"Task.{name} is ClearML's; in Tunelab use {alternative}")


class ClearMLNames(type):
    """Task's metaclass: ClearML's class methods (``Task.create(...)``) answer as its
    instance methods do, with what to use instead."""

    def __getattr__(cls, name: str) -> Any:
        raise missing_attribute(cls.__name__, name, of_class=True)
