"""What a task can be told to do: clone, enqueue, reset, stop, publish, archive, and
handing the current run to an agent. Mixed into ``Task``."""

from __future__ import annotations

import atexit
import functools
import sys
from typing import Any, ClassVar

from tunelab.errors import InvalidInput, TunelabError
from tunelab.sdk.config import load_config
from tunelab.sdk.run_session import RunSession
from tunelab.sdk.transport import ApiClient


class TaskLifecycle:
    _current: ClassVar[Any] = None
    _client: Any
    _data: dict[str, Any]
    _session: RunSession | None
    _remote: bool

    def __init__(
        self, client: Any, data: dict[str, Any], session: RunSession | None = None
    ) -> None:
        self._client = client
        self._data = data
        self._session = session
        self._remote = False  # running under an agent: stored values win over the code's

    @property
    def id(self) -> str:
        return str(self._data["id"])

    @classmethod
    def clone(
        cls,
        source_task: Any,
        name: str | None = None,
        comment: str | None = None,
        parent: str | None = None,
        project: str | None = None,
    ) -> Any:
        """A new draft with all of the source's inputs and none of its outputs.

        Its parent is the source's parent (or the source when it has none); ``parent``
        sets another task id.
        """
        client = _config_client()
        source_id = source_task.id if hasattr(source_task, "id") else source_task
        data = client.clone_task(source_id, name=name, project=project, comment=comment)
        if parent is not None:
            data = client.update_task(data["id"], parent=parent)
        return cls(client, data)

    @classmethod
    def enqueue(cls, task: Any, queue_name: str = "default") -> dict[str, Any]:
        """Put a draft in a queue (created if it does not exist) for an agent to run."""
        task_id = task.id if hasattr(task, "id") else task
        return _config_client().enqueue_task(task_id, queue=queue_name)

    @classmethod
    def dequeue(cls, task: Any) -> dict[str, Any]:
        """Take a queued task out of its queue; it is a draft again."""
        task_id = task.id if hasattr(task, "id") else task
        return _config_client().dequeue_task(task_id)

    def reset(self, delete_artifacts: bool = False) -> list[dict[str, str]]:
        """Back to draft: outputs (scalars, console, artifacts, output models) deleted,
        inputs kept. ``delete_artifacts`` also deletes their files from storage; returns
        the files that could not be deleted (``[{"uri", "error"}]``)."""
        answer = self._control_client().reset_task(self.id, delete_artifacts=delete_artifacts)
        failed: list[dict[str, str]] = answer.pop("failed_files", [])
        answer.pop("deleted_files", None)
        self._data = answer
        return failed

    def mark_stopped(self, status_message: str = "") -> None:
        """Stop the task: a queued one at once; a running one is asked to stop."""
        self._data = self._control_client().stop_task(self.id, reason=status_message)

    def publish(self) -> None:
        """Make a completed or stopped task read-only for good."""
        self._data = self._control_client().publish_task(self.id)

    def archive(self) -> None:
        self._data = self._control_client().archive_task(self.id)

    def unarchive(self) -> None:
        self._data = self._control_client().unarchive_task(self.id)

    def register_abort_callback(self, callback_function: Any) -> None:
        """Call ``callback_function()`` when the run is stopped (e.g. to save a checkpoint);
        an agent waits its grace period (10 s by default) for it."""
        if self._session is None:
            raise InvalidInput("only the task started by Task.init in this process can abort")
        self._session.exit.abort_callbacks.append(callback_function)

    def execute_remotely(self, queue_name: str = "default", exit_process: bool = True) -> None:
        """Stop running here: enqueue this task for an agent and end the process.

        Under an agent this does nothing, so the same script runs its body there.
        """
        if self._remote or self._session is None:
            return
        self._session.detach()  # waits for the source capture, sends everything
        client = self._control_client()
        client.update_task(self.id, status="stopped", status_reason="sent to an agent")
        client.reset_task(self.id)
        self._data = client.enqueue_task(self.id, queue=queue_name)
        if type(self)._current is self:
            type(self)._current = None
        if exit_process:
            print(f"tunelab: task {self.id} enqueued to {queue_name!r}; exiting", file=sys.stderr)
            sys.exit(0)

    def _control_client(self) -> ApiClient:
        if not isinstance(self._client, ApiClient):
            raise TunelabError("an offline task cannot be controlled; sync it first")
        return _config_client() if self._session is not None else self._client


@functools.cache
def shared_client(api_url: str, token: str | None) -> ApiClient:
    # One connection pool per server for reads and control calls, kept for the process.
    client = ApiClient(api_url, token=token)
    atexit.register(client.close)
    return client


def _config_client() -> ApiClient:
    config = load_config()
    return shared_client(config.api_url, config.api_token)
