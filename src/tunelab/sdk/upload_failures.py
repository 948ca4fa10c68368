"""Uploads that failed are shown on the task, never only as a console line, and retried.

When a file of the run (an artifact, a model's weights) cannot be stored, the SDK records
the failure on the task through the API (the task's header, the experiments table and its
Artifacts tab show it with the reason) and keeps the file: a file the SDK wrote itself (a
serialized object) moves to ``~/.tunelab/failed-uploads/<task id>/``. The upload is tried
again at the next ``task.flush()`` and when the script ends; a later success clears the
warning. After the run, ``tunelab task retry-uploads ID`` on the machine that holds the
files stores them and registers them on the task::

    $ tunelab task retry-uploads 6f1e...
    stored artifact 'features' at s3://bucket/runs/demo/train.6f1e.../features.parquet
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KEPT_FILES = Path("~/.tunelab/failed-uploads")


@dataclass(frozen=True)
class UploadTarget:
    """One file's destination and what registering it there needs: for an artifact its
    type, format, preview and metadata; for a model its ``model_id``."""

    kind: str  # "artifact" or "model"
    name: str
    uri: str
    record: dict[str, Any] = field(default_factory=dict)


Retry = Callable[[Path], None]


class FailedUploads:
    """The run's failed uploads: recorded on the task, kept for a retry, cleared when stored.

    ``send(method, *args)`` makes the API call (from the upload thread).
    """

    def __init__(self, task_id: str, send: Callable[..., None]) -> None:
        self._task_id = task_id
        self._send = send
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], tuple[Path, Retry]] = {}
        self._recorded: set[tuple[str, str]] = set()

    def failed(
        self, target: UploadTarget, path: Path, owned: bool, exc: BaseException, retry: Retry
    ) -> None:
        """Record the failure on the task; ``retry(path)`` submits the upload again."""
        kept = keep_file(path, self._task_id, target) if owned else path
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        body = {
            "kind": target.kind,
            "name": target.name,
            "reason": reason,
            "path": str(kept),
            "host": socket.gethostname(),
            "uri": target.uri,
            "record": target.record,
        }
        with self._lock:
            self._pending[(target.kind, target.name)] = (kept, retry)
            self._recorded.add((target.kind, target.name))
        self._send("record_upload_failure", self._task_id, body)

    def stored(self, target: UploadTarget) -> None:
        """The file is stored now: clear its warning if one was recorded."""
        key = (target.kind, target.name)
        with self._lock:
            self._pending.pop(key, None)
            if key not in self._recorded:
                return
            self._recorded.discard(key)
        self._send("clear_upload_failure", self._task_id, target.kind, target.name)

    def retry_all(self) -> int:
        """Submit every failed upload whose file still exists again; how many were."""
        with self._lock:
            pending = list(self._pending.items())
            self._pending.clear()
        for _, (path, retry) in pending:
            if path.exists():
                retry(path)
        return len(pending)


def keep_file(path: Path, task_id: str, target: UploadTarget) -> Path:
    """Move a file the SDK wrote out of the run's scratch folder (removed when it ends)."""
    folder = KEPT_FILES.expanduser() / task_id / f"{target.kind}-{_file_part(target.name)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        kept = folder / path.name
        shutil.move(path, kept)
    except OSError:
        return path
    return kept


def retry_recorded(client: Any, task_id: str, storage: Any, log: Callable[[str], None]) -> int:
    """Store the task's failed uploads whose files are on this machine, register them and
    clear their warnings; answers how many are still failed."""
    from tunelab.storage import upload

    left = 0
    for failure in client.list_upload_failures(task_id)["upload_failures"]:
        kind, name, path = failure["kind"], failure["name"], Path(failure["path"])
        what = f"{kind} {name!r}"
        if not path.is_file():
            log(f"{what}: {path} is not on this machine ({failure['host'] or 'unknown host'})")
            left += 1
            continue
        try:
            stored = upload(path, failure["uri"], storage)
            fields = {"uri": stored.uri, "size": stored.size, "sha256": stored.sha256}
            if kind == "artifact":
                client.put_artifact(task_id, name, {**_artifact_record(failure), **fields})
            else:
                client.update_model(failure["record"]["model_id"], **fields)
        except Exception as exc:  # one file failing again must not stop the others
            log(f"{what}: failed again: {exc}")
            left += 1
            continue
        client.clear_upload_failure(task_id, kind, name)
        if path.is_relative_to(KEPT_FILES.expanduser()):
            with contextlib.suppress(OSError):
                path.unlink()
        log(f"stored {what} at {stored.uri}")
    return left


def _artifact_record(failure: dict[str, Any]) -> dict[str, Any]:
    record = failure.get("record") or {}
    return {
        "type": str(record.get("type", "file")),
        "format": str(record.get("format", "")),
        "preview": str(record.get("preview", "")),
        "metadata": dict(record.get("metadata") or {}),
    }


def _file_part(name: str) -> str:
    from tunelab.sdk.artifact_formats import safe_file_stem

    return safe_file_stem(name)
