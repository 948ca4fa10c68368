"""``tunelab agent execute --id`` inside a scheduler's job that a launcher submitted.

The launcher took the task off its queue (it runs on the launcher's worker) and put only the
task's own key in the job's environment (``TUNELAB_API_TOKEN=tlt_...``): the job can reach
that one task, and nothing else, for as long as the task runs. So the job neither registers a
worker nor starts the task; it runs it as an agent would (checkout, environment, edited
values, console) and records the script's outcome. The launcher heartbeats for it, hears
stop requests and cancels the job; a job the scheduler ends with a signal (that cancel, a
time limit, a preemption) leaves its outcome to the launcher, which asks the scheduler why.

Example (what the job's script runs)::

    TUNELAB_API_TOKEN=tlt_... tunelab agent execute --id 3f1c0a...
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from tunelab.agent.runner import TaskRunner
from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict

# The prefix of the keys ``store.task_keys`` mints (not imported: the agent has no store).
TASK_KEY_PREFIX = "tlt_"
# Set by the launcher in the job's environment: the scheduler's name, for the console.
SCHEDULER_VARIABLE = "TUNELAB_LAUNCHER"


def runs_as_job(token: str | None) -> bool:
    """Whether this process holds a task's own key, which only a launcher's job is given."""
    return bool(token) and str(token).startswith(TASK_KEY_PREFIX)


def execute_as_job(client: Any, runner: TaskRunner, task_id: str, scheduler: str) -> str:
    """Run the task the launcher took for this job; its final status."""
    task = client.get_task(task_id)
    if task["status"] != TaskStatus.RUNNING:
        raise Conflict(
            f"task {task_id} is {task['status']}, not running: a job runs only the task its "
            "launcher took"
        )
    runner.launched_by = scheduler

    def handle(signum: int, frame: FrameType | None) -> None:
        # Set first, in the handler itself: the scheduler signals the script too, and its
        # exit must not be recorded as the script's own failure.
        runner.ended_by_scheduler.set()
        runner.request_stop(task_id, f"the job was ended by {scheduler}")

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return runner.run({**task, "task_key": client.token})
