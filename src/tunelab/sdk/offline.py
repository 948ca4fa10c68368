"""Offline mode: record a run into a folder, upload it later with ``tunelab sync FOLDER``.

``OfflineClient`` stands in for ``ApiClient``'s write methods: every call becomes one line
of ``FOLDER/session.jsonl`` (the session-log format) and the task's state is kept locally,
so the script reads back what it wrote. ``sync_session`` replays a folder, or a spool file
left by a run whose server was away, against a real server.

Example::

    client = OfflineClient(Path("~/.tunelab/offline/run-1").expanduser())
    task = client.create_task({"name": "baseline", "project": "vision"})   # "offline-…"
    client.set_hyperparameters(task["id"], {"Args": {"lr": {"value": "0.1", "type": "float"}}})

    server_id = sync_session(Path("~/.tunelab/offline/run-1").expanduser(), ApiClient(url))

Sync is safe to run again: ``FOLDER/synced.json`` (``FILE.synced.json`` for a spool file)
records the server id given to each local task and how many lines were sent, and
scalars, console lines and plots keep their batch ids, so nothing is stored twice.
"""

from __future__ import annotations

import copy
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tunelab.domain.scalar_wire import unpack_bytes
from tunelab.domain.task import FINAL_STATUSES
from tunelab.errors import InvalidInput, NotFound, TunelabError
from tunelab.sdk import session_log
from tunelab.sdk.session_log import Op, WriteClient
from tunelab.sdk.transport import ApiClient

SESSION_FILE = "session.jsonl"
OFFLINE_FILES = "files"  # artifact files of the session, uploaded by sync
LOCAL_ID_PREFIX = "offline-"
# Where a task refers to another one by id (mapped to the server's id on sync).
_ID_FIELDS = ("parent",)
_INPUTS = {
    "set_hyperparameters": ("hyperparameters", "params"),
    "set_configuration": ("configuration", "objs"),
    "set_user_properties": ("user_properties", "props"),
}


class OfflineClient:
    """Records writes into ``folder``; answers like the server would, from local state."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).expanduser()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log_path = self.folder / SESSION_FILE
        self._lock = threading.Lock()
        self._tasks: dict[str, dict[str, Any]] = {}
        for _, op in session_log.iter_ops(self.log_path):  # reopening a folder: catch up
            self._apply(op)

    def __repr__(self) -> str:
        return f"OfflineClient({str(self.folder)!r})"

    def create_task(self, body: Mapping[str, Any]) -> dict[str, Any]:
        task_id = LOCAL_ID_PREFIX + uuid.uuid4().hex
        return self._record(Op("create_task", task_id, {"body": dict(body)}))

    def get_task(self, task_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._task(task_id))

    def update_task(self, task_id: str, **fields: Any) -> dict[str, Any]:
        return self._record(session_log.op_for_call("update_task", task_id, **fields))

    def set_hyperparameters(
        self, task_id: str, params: Mapping[str, Any], replace: bool = False
    ) -> dict[str, Any]:
        return self._record(
            session_log.op_for_call("set_hyperparameters", task_id, params, replace)
        )

    def set_configuration(
        self, task_id: str, objs: Mapping[str, Any], replace: bool = False
    ) -> dict[str, Any]:
        return self._record(session_log.op_for_call("set_configuration", task_id, objs, replace))

    def set_user_properties(
        self, task_id: str, props: Mapping[str, Any], replace: bool = False
    ) -> dict[str, Any]:
        return self._record(session_log.op_for_call("set_user_properties", task_id, props, replace))

    def post_scalars(self, task_id: str, batch: Mapping[str, Any]) -> dict[str, Any]:
        op = Op("scalars", task_id, {"series": list(batch["series"])}, batch.get("batch_id"))
        return self._record(op)

    def post_console(
        self, task_id: str, lines: Sequence[Mapping[str, Any]], batch_id: str | None = None
    ) -> dict[str, Any]:
        return self._record(Op("console", task_id, {"lines": [dict(x) for x in lines]}, batch_id))

    def post_plots(
        self, task_id: str, plots: Sequence[Mapping[str, Any]], batch_id: str | None = None
    ) -> dict[str, Any]:
        return self._record(Op("plots", task_id, {"plots": [dict(p) for p in plots]}, batch_id))

    def put_artifact(self, task_id: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """An artifact whose file waits in ``FOLDER/files/``; ``sync`` uploads it."""
        return self._record(session_log.op_for_call("put_artifact", task_id, name, dict(body)))

    def post_debug_sample(self, task_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A debug sample whose file waits in ``FOLDER/files/``; ``sync`` uploads it. The
        history bound is applied by the server when the sample is synced."""
        return self._record(session_log.op_for_call("post_debug_sample", task_id, dict(body)))

    def record_capture_warnings(
        self, task_id: str, warnings: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """What the run could not capture; ``sync`` appends them to the server's task."""
        op = session_log.op_for_call("record_capture_warnings", task_id, warnings)
        return self._record(op)

    @property
    def files_uri(self) -> str:
        """Where an offline run stores artifact files when it has no destination of its own."""
        return (self.folder / OFFLINE_FILES).as_uri()

    # ----- local state ------------------------------------------------------------------

    def _record(self, op: Op) -> dict[str, Any]:
        with self._lock:
            if op.op != "create_task":
                self._task(op.task_id)  # an unknown task is refused, as the server would
            session_log.append_ops(self.log_path, [op])
            return copy.deepcopy(self._apply(op))

    def _task(self, task_id: str) -> dict[str, Any]:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise NotFound(f"no task with id {task_id!r} in {self.folder}") from None

    def _apply(self, op: Op) -> dict[str, Any]:
        """What the server would answer, best effort (no validation, no summaries)."""
        if op.op == "create_task":
            task = self._tasks[op.task_id] = _new_task(op.task_id, op.args["body"])
            return task
        task = self._task(op.task_id)
        now = time.time()
        task["last_update"] = now
        if op.op == "update_task":
            fields = dict(op.args["fields"])
            task["execution"].update(fields.pop("execution", None) or {})
            task.update(fields)
            if fields.get("status") in FINAL_STATUSES and not task.get("completed"):
                task["completed"] = now
            return task
        if op.op in _INPUTS:
            field, name = _INPUTS[op.op]
            payload, nested = op.args[name], op.op == "set_hyperparameters"
            if op.args["replace"]:
                task[field] = {}
            _merge(task[field], payload, nested)
            return {field: task[field]}
        if op.op == "record_capture_warnings":
            kept = task.setdefault("capture_warnings", [])
            kept.extend(copy.deepcopy(op.args["warnings"]))
            return {"capture_warnings": kept, "dropped": 0}
        if op.op == "put_artifact":
            artifact = {"name": op.args["name"], **op.args["body"], "created": now}
            task.setdefault("artifacts", {})[op.args["name"]] = artifact
            return artifact
        if op.op == "debug_sample":
            return {"stored": dict(op.args["body"]), "removed": []}
        if op.op == "scalars":
            stored = sum(_series_length(s) for s in op.args["series"])
            return {"stored": stored, "duplicate": False}
        if op.op == "plots":
            return {"stored": len(op.args["plots"]), "duplicate": False}
        return {"stored": len(op.args["lines"]), "duplicate": False}


def _new_task(task_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    now = time.time()
    status = str(body.get("status", "draft"))
    task: dict[str, Any] = {
        "id": task_id,
        "name": body.get("name", ""),
        "project": {"id": None, "name": body.get("project", "")},
        "type": body.get("type", "training"),
        "status": status,
        "status_reason": "",
        "tags": list(body.get("tags", [])),
        "comment": body.get("comment", ""),
        "parent": body.get("parent"),
        "user": body.get("user", ""),
        "created": now,
        "started": now if status == "running" else None,
        "completed": None,
        "last_update": now,
        "last_iteration": 0,
        "archived": False,
        "execution": dict(body.get("execution", {})),
        "hyperparameters": {},
        "configuration": {},
        "user_properties": {},
        "runtime": dict(body.get("runtime", {})),
        "capture_warnings": [],
        "capture_warnings_dropped": 0,
    }
    _merge(task["hyperparameters"], body.get("hyperparameters", {}), nested=True)
    _merge(task["configuration"], body.get("configuration", {}), nested=False)
    _merge(task["user_properties"], body.get("user_properties", {}), nested=False)
    return copy.deepcopy(task)


def _merge(target: dict[str, Any], changes: Mapping[str, Any], nested: bool) -> None:
    """PATCH semantics: given keys replaced, ``None`` deletes; hyperparameters per section."""
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        elif nested and isinstance(value, Mapping):
            _merge(target.setdefault(key, {}), value, nested=False)
        else:
            target[key] = copy.deepcopy(value)


def _series_length(series: Mapping[str, Any]) -> int:
    iterations = series.get("iterations", [])
    if isinstance(iterations, (bytes, bytearray)):
        return len(iterations) // 8
    return len(unpack_bytes(iterations)) // 8 if isinstance(iterations, str) else len(iterations)


# ----- sync ---------------------------------------------------------------------------


def sync_session(path: Path, client: WriteClient) -> str:
    """Upload an offline folder (or a spool file) and return the server id of its task.

    Tasks recorded offline are created first and get the server's ids; every other line
    is replayed in order. Stops at the first line the server cannot take now (no answer,
    5xx), with the progress saved, so running it again resumes. A line the server refuses
    (4xx) is reported on stderr and skipped.
    """
    path = Path(path).expanduser()
    log = path / SESSION_FILE if path.is_dir() else path
    if not log.is_file():
        raise NotFound(f"no session log at {log}")
    if isinstance(client, ApiClient):
        client = client.as_run_client()  # the run's own writes: inputs of a running task too
    progress = session_log.read_progress(path)
    done = int(progress.pop("done_lines", 0))
    ids = {str(local): str(server) for local, server in progress.items()}
    first: str | None = None
    for index, op in session_log.iter_ops(log):
        first = first or op.task_id
        if index < done:
            continue
        try:
            if op.op == "create_task":
                if op.task_id not in ids:
                    created = client.create_task(_mapped(op.args["body"], ids))
                    ids[op.task_id] = str(created["id"])
            else:
                if op.op == "update_task":
                    op = Op(op.op, op.task_id, {"fields": _mapped(op.args["fields"], ids)})
                if op.op in ("put_artifact", "debug_sample"):
                    op = _uploaded(op, path, client)
                session_log.apply(client, op, _server_id(op.task_id, ids, log))
        except TunelabError as exc:
            if exc.status >= 500 or op.op == "create_task":
                session_log.write_progress(path, {**ids, "done_lines": index})
                raise
            print(f"tunelab: {log}:{index + 1}: {op.op} skipped: {exc.message}", file=sys.stderr)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # A line of the right form whose arguments are not what its operation records
            # (an edited or damaged file): as a damaged line, skipped.
            if op.op == "create_task":
                raise InvalidInput(f"{log}:{index + 1}: a damaged create_task: {exc!r}") from None
            why = f"{type(exc).__name__}: {exc}"
            print(f"tunelab: {log}:{index + 1}: damaged {op.op} skipped ({why})", file=sys.stderr)
        session_log.write_progress(path, {**ids, "done_lines": index + 1})
    if first is None:
        raise InvalidInput(f"{log} holds no operations")
    return _server_id(first, ids, log)


def _uploaded(op: Op, session: Path, client: WriteClient) -> Op:
    """An artifact or debug sample recorded offline: its file goes from the session folder
    to the server's file store (same key), and the record names it there. A file stored
    elsewhere (the run had a destination of its own) is left as it is."""
    from tunelab.storage import StorageContext, upload

    body = dict(op.args["body"])
    local_root = (session / OFFLINE_FILES).resolve()
    prefix = local_root.as_uri() + "/"
    if not (isinstance(client, ApiClient) and str(body.get("uri", "")).startswith(prefix)):
        return op
    key = body["uri"][len(prefix) :]
    # The file must be the session's own: a line naming files/../../x (an edited folder
    # someone handed over) would upload any file this user can read.
    if not (local_root / key).resolve().is_relative_to(local_root):
        raise InvalidInput(f"{body['uri']} is not a file of the session folder")
    ctx = StorageContext(server_url=client.base_url, server_token=client.token)
    stored = upload(local_root / key, f"tunelab://{key}", ctx)
    body.update(uri=stored.uri, size=stored.size)
    if op.op == "put_artifact":
        body["sha256"] = stored.sha256
    return Op(op.op, op.task_id, {**op.args, "body": body})


def _server_id(task_id: str, ids: Mapping[str, str], log: Path) -> str:
    if task_id in ids:
        return ids[task_id]
    if task_id.startswith(LOCAL_ID_PREFIX):
        raise InvalidInput(f"{log}: task {task_id} is used before the line that creates it")
    return task_id


def _mapped(fields: Mapping[str, Any], ids: Mapping[str, str]) -> dict[str, Any]:
    mapped = dict(fields)
    for key in _ID_FIELDS:
        if isinstance(mapped.get(key), str) and mapped[key] in ids:
            mapped[key] = ids[mapped[key]]
    return mapped
