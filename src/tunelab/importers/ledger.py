"""Which source runs are imported already: the ids recorded on the tasks themselves.

An imported task carries the tag ``imported`` and two user properties: ``imported_from``
(``"mlflow:<run id>"``, ``"tensorboard:<run folder>"``, ``"clearml:<offline task id>"``) and
``import_state``, ``partial`` while the run is being written and ``complete`` once all of it
is in. Nothing is kept beside the server, so an import is idempotent wherever it runs from:

- a run whose task is ``complete`` is skipped;
- a run whose task is ``partial`` (the import was killed half-way) is deleted and written
  again, so no point, line or file is ever stored twice.

Example::

    ledger = Ledger(client)
    if ledger.complete("mlflow:0f3c..."):
        ...                                                 # skipped
    task = ledger.begin("mlflow:0f3c...", {"name": "run", "project": "exp"})
    ...                                                     # scalars, files, ...
    ledger.finish(task["id"], "completed", started=t0, completed=t1)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunelab.sdk.transport import ApiClient, all_items

IMPORTED_TAG = "imported"
IMPORTED_FROM = "imported_from"
IMPORT_STATE = "import_state"
PARTIAL = "partial"
COMPLETE = "complete"


class Ledger:
    """The imported tasks on the server, read once, kept current as runs are written."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        self._tasks: dict[str, tuple[str, bool]] | None = None  # source id -> (task, complete)

    def complete(self, source_id: str) -> str | None:
        """The id of the task that holds all of ``source_id``, or None."""
        found = self._known().get(source_id)
        return found[0] if found and found[1] else None

    def begin(self, source_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new running task for ``source_id`` (``body`` as ``POST /tasks`` takes it); a
        partial one left by an earlier import is deleted first."""
        known = self._known()
        left = known.pop(source_id, None)
        if left is not None:
            self.discard(left[0])
        props = dict(body.get("user_properties", {}))
        props[IMPORTED_FROM] = {"value": source_id, "type": "str"}
        props[IMPORT_STATE] = {"value": PARTIAL, "type": "str"}
        tags = list(dict.fromkeys([*body.get("tags", []), IMPORTED_TAG]))
        created = {**body, "status": "running", "tags": tags, "user_properties": props}
        task = self._client.create_task(created)
        known[source_id] = (str(task["id"]), False)
        return task

    def discard(self, task_id: str) -> None:
        """Delete a task left partial, with its files. Only a draft or an archived task may
        be deleted: a running one is failed and archived first."""
        task = self._client.get_task(task_id)
        if task["status"] == "running":
            self._client.update_task(task_id, status="failed", status_reason="import stopped")
        if task["status"] != "draft" and not task["archived"]:
            self._client.archive_task(task_id)
        self._client.delete_task(task_id, delete_artifacts=True)
        for source, (known_id, _) in list(self._known().items()):
            if known_id == task_id:
                del self._known()[source]

    def finish(
        self,
        task_id: str,
        status: str = "completed",
        *,
        started: float | None = None,
        completed: float | None = None,
        reason: str = "",
    ) -> None:
        """End the task as the source run ended, then mark it complete (the last write:
        a task ended but not marked is written again by the next import)."""
        fields: dict[str, Any] = {"status": status}
        if reason:
            fields["status_reason"] = reason[:255]
        if started is not None:
            fields["started"] = started
        if completed is not None:
            fields["completed"] = completed
        self._client.update_task(task_id, **fields)
        self._client.set_user_properties(
            task_id, {IMPORT_STATE: {"value": COMPLETE, "type": "str"}}
        )
        for source, (known_id, _) in self._known().items():
            if known_id == task_id:
                self._known()[source] = (task_id, True)
                break

    def _known(self) -> dict[str, tuple[str, bool]]:
        if self._tasks is None:
            self._tasks = {}
            listing = all_items(self._client.list_tasks, tag=[IMPORTED_TAG], archived="all")
            for item in listing:
                props = self._client.get_task(item["id"]).get("user_properties") or {}
                source = (props.get(IMPORTED_FROM) or {}).get("value")
                if not source:
                    continue
                done = (props.get(IMPORT_STATE) or {}).get("value") == COMPLETE
                previous = self._tasks.get(str(source))
                if previous is None or (done and not previous[1]):
                    self._tasks[str(source)] = (str(item["id"]), done)
        return self._tasks
