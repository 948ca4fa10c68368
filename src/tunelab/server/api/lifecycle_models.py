"""Request bodies of the lifecycle, queue and worker routes: strict, no unknown fields."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tunelab.server.api.task_models import (
    ProjectName,
    ShortText,
    TaskId,
    TaskName,
    _Body,
)

QueueName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
WorkerId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
HostName = Annotated[str, StringConstraints(max_length=256)]
# The longest a long poll waits; proxies commonly cut idle requests at 60 s or more.
MAX_POLL_SECONDS = 60


class CloneRequest(_Body):
    name: TaskName | None = None
    project: ProjectName | None = None
    comment: ShortText | None = None
    set_as_parent: bool = False


class ResetRequest(_Body):
    delete_artifacts: bool = False


class EnqueueRequest(_Body):
    queue: QueueName = "default"


class StopRequest(_Body):
    reason: ShortText = ""


class StartRequest(_Body):
    worker: WorkerId


class QueueCreate(_Body):
    name: QueueName


class MoveRequest(_Body):
    to: Literal["top", "bottom", "before"]
    before: TaskId | None = None


class WorkerRegistration(_Body):
    id: WorkerId
    queues: Annotated[list[QueueName], Field(max_length=100)] = ["default"]
    host: HostName = ""
    # The task the agent runs now: one registering again while it works names it, a new
    # agent process names none (and the tasks left running under its id fail).
    task_id: TaskId | None = None
    # A launcher registering again: the tasks it runs as scheduler jobs and found again,
    # which go on (the others left running under its id fail).
    jobs: Annotated[list[TaskId], Field(max_length=10_000)] = []


class Heartbeat(_Body):
    task_id: TaskId | None = None


class NextRequest(_Body):
    timeout: Annotated[float, Field(ge=0, le=MAX_POLL_SECONDS)] = 30
