"""What a task records: its identity, execution, inputs and runtime."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class TaskStatus(enum.StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"
    PUBLISHED = "published"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.STOPPED, TaskStatus.PUBLISHED}
)


class TaskType(enum.StrEnum):
    TRAINING = "training"
    TESTING = "testing"
    INFERENCE = "inference"
    DATA_PROCESSING = "data_processing"
    OPTIMIZER = "optimizer"
    CONTROLLER = "controller"
    CUSTOM = "custom"


# Hyperparameter sections the SDK fills on its own; any other name is a custom section.
SECTION_ARGS = "Args"
SECTION_GENERAL = "General"
SECTION_TF_DEFINE = "TF_DEFINE"
SECTION_ENVIRONMENT = "Environment"


@dataclass(frozen=True)
class Parameter:
    """One hyperparameter: ``section/name`` with its value as text and its Python type."""

    section: str
    name: str
    value: str
    type: str = "str"
    description: str = ""

    @property
    def key(self) -> str:
        return f"{self.section}/{self.name}"


@dataclass(frozen=True)
class ConfigurationObject:
    """A configuration stored whole, as text (a dict as JSON, a YAML or any config file)."""

    name: str
    text: str
    type: str = "dictionary"
    description: str = ""


EXECUTION_FIELDS = (
    "repository",
    "branch",
    "commit",
    "entry_point",
    "working_dir",
    "binary",
    "diff",
    "diff_error",
    "requirements",
    "original_requirements",
    "docker_image",
    "docker_arguments",
    "docker_setup_script",
    "output_uri",
)


@dataclass(frozen=True)
class Execution:
    """Where the code came from and how to run it again."""

    repository: str = ""
    branch: str = ""
    commit: str = ""
    entry_point: str = ""
    working_dir: str = ""
    binary: str = ""
    diff: str = ""
    # Why the uncommitted changes could not be recorded (``diff`` is then unknown, not
    # empty); an agent refuses to run the task until the diff is edited, which clears it.
    diff_error: str = ""
    requirements: str = ""
    original_requirements: str = ""
    docker_image: str = ""
    docker_arguments: str = ""
    docker_setup_script: str = ""
    output_uri: str = ""

    def to_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in EXECUTION_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Execution:
        return cls(**{k: str(v or "") for k, v in data.items() if k in EXECUTION_FIELDS})


RUNTIME_FIELDS = (
    "host",
    "os",
    "python",
    "cpu_count",
    "memory_gb",
    "gpus",
    "os_user",
    "original",
)


@dataclass(frozen=True)
class Runtime:
    """The machine a run happened on, and the OS user it ran as.

    ``original``: when the task was run again elsewhere (an agent), the runtime it was
    first recorded with (without an ``original`` of its own); None otherwise.
    """

    host: str = ""
    os: str = ""
    python: str = ""
    cpu_count: int = 0
    memory_gb: float = 0.0
    gpus: tuple[str, ...] = ()
    os_user: str = ""
    original: Runtime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "os": self.os,
            "python": self.python,
            "cpu_count": self.cpu_count,
            "memory_gb": self.memory_gb,
            "gpus": list(self.gpus),
            "os_user": self.os_user,
            "original": self.original.to_dict() if self.original else None,
        }


@dataclass(frozen=True)
class TaskRecord:
    """A task as the store holds it (the API's ``Task`` JSON has the same fields)."""

    id: str
    name: str
    project: str
    type: TaskType
    status: TaskStatus
    status_reason: str = ""
    tags: tuple[str, ...] = ()
    comment: str = ""
    parent: str | None = None
    user: str = ""
    created: float = 0.0
    started: float | None = None
    completed: float | None = None
    last_update: float = 0.0
    last_iteration: int = 0
    archived: bool = False
    execution: Execution = field(default_factory=Execution)
    runtime: Runtime = field(default_factory=Runtime)
