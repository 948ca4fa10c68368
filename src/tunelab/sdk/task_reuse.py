"""``Task.init(reuse_last_task_id=...)``: running a script again takes over the task its last
run left without outputs, as ClearML does, instead of piling up empty tasks.

Each ``Task.init`` on this machine remembers its task per server, project, name and type
(``~/.tunelab/last_tasks.json``). The next ``Task.init`` with the same four, from the same
script and within 24 hours, reuses that task when it still has that project, name and type
(nobody renamed it meanwhile), recorded no outputs (no scalars, artifacts or models), and
is not archived, published, queued or running: it is reset (its console and plots go) and
runs again with this run's inputs. ``reuse_last_task_id=False``
always makes a new task; a task id reuses that task under the same rules.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from tunelab.errors import TunelabError
from tunelab.sdk.capture_warnings import guarded
from tunelab.sdk.transport import ApiClient

REUSE_WINDOW_SECONDS = 24 * 3600
# A task in these statuses can be taken over; one queued or running belongs to another run.
REUSABLE_STATUSES = frozenset({"draft", "completed", "failed", "stopped"})


def cache_path() -> Path:
    return Path.home() / ".tunelab" / "last_tasks.json"


def take_over(
    client: ApiClient,
    body: dict[str, Any],
    reuse: bool | str,
    script: Path | None,
    cache: Path | None = None,
) -> dict[str, Any] | None:
    """The task ``reuse`` points at, reset and running with ``body``'s inputs, if it can be
    reused; else None (the caller creates a new task)."""
    if isinstance(reuse, str):
        candidate = reuse.strip()
    else:
        candidate = _last_used(cache or cache_path(), _key(client, body), _script(script))
    if not reuse or not candidate:
        return None
    return _take_over(client, candidate, body, same_record=not isinstance(reuse, str))


def remember(
    client: ApiClient,
    body: dict[str, Any],
    task_id: str,
    script: Path | None,
    cache: Path | None = None,
) -> None:
    """Note ``task_id`` as this script's last task for its project, name and type."""
    entry = {"id": task_id, "script": _script(script), "time": time.time()}
    with guarded("the last task used (for reuse_last_task_id)"):
        _remember(cache or cache_path(), _key(client, body), entry)


def _key(client: ApiClient, body: dict[str, Any]) -> str:
    return " ".join([client.base_url, str(body["project"]), str(body["name"]), str(body["type"])])


def _script(script: Path | None) -> str:
    return str(script) if script else ""


def has_outputs(client: ApiClient, task: dict[str, Any]) -> bool:
    if task.get("artifacts") or task.get("output_models"):
        return True
    return bool(client.get_metrics(str(task["id"]))["metrics"])


def _take_over(
    client: ApiClient, task_id: str, body: dict[str, Any], *, same_record: bool
) -> dict[str, Any] | None:
    try:
        task = client.get_task(task_id)
        identity = (task["project"]["name"], task["name"], task["type"])
        if (
            (same_record and identity != (body["project"], body["name"], body["type"]))
            or task["status"] not in REUSABLE_STATUSES
            or task.get("archived")
            or has_outputs(client, task)
        ):
            return None
        if task["status"] != "draft":
            client.reset_task(task_id)
    except TunelabError:  # gone, or not ours to read: a new task it is
        return None
    # The run records its inputs again: what the last run connected must not linger.
    client.set_hyperparameters(task_id, body.get("hyperparameters") or {}, replace=True)
    client.set_configuration(task_id, {}, replace=True)
    fields = {k: body[k] for k in ("name", "type", "tags", "user", "execution", "runtime")}
    return client.update_task(task_id, status="running", status_reason="", **fields)


def _last_used(cache: Path, key: str, script: str) -> str:
    entry = _read(cache).get(key)
    if not isinstance(entry, dict) or entry.get("script") != script:
        return ""
    if time.time() - float(entry.get("time") or 0) > REUSE_WINDOW_SECONDS:
        return ""
    return str(entry.get("id") or "")


def _remember(cache: Path, key: str, entry: dict[str, Any]) -> None:
    entries = _read(cache)
    now = time.time()
    entries = {
        k: v
        for k, v in entries.items()
        if isinstance(v, dict) and now - float(v.get("time") or 0) <= REUSE_WINDOW_SECONDS
    }
    entries[key] = entry
    cache.parent.mkdir(parents=True, exist_ok=True)
    # Written whole and renamed into place: two runs starting at once never leave half a file.
    fd, scratch = tempfile.mkstemp(prefix=".last_tasks-", dir=cache.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(entries, handle)
    os.replace(scratch, cache)


def _read(cache: Path) -> dict[str, Any]:
    try:
        entries = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}
