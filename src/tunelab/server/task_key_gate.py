"""Where a task's key may go, beyond what the rules on each object (``server.access``) say.

A task's key is what its script calls the API with: it reads what the task's owner may read,
and writes only what a run produces. So: no pages, nothing about accounts or keys, and writes
only under its own task (outputs, status, artifacts, inputs), to files and uploads under its
task's keys, to models (``POST /models`` checks the project; a model's own routes, that
the model is its task's), and DVCLive's live metrics of its own task. Moving its task
through the lifecycle (clone, enqueue, reset, publish, delete…) is for people, not for the
code being run, with one exception: the key of a task of type optimizer or controller
(``TaskScope.launches``) may also create, clone, edit, enqueue and stop (not delete) the
other tasks of its own project, as its owner could (``server.access`` checks the project
and the owner's role): that is what an optimizer or a pipeline run by an agent is for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunelab.domain.access import Principal, Role
from tunelab.errors import Forbidden

_API = "/api/v1"
# DVCLive posts where DVC Studio listens (``server.api.dvc_live``).
_LIVE = "/api/live"
_ACCOUNT_PATHS = (f"{_API}/users", f"{_API}/tokens")
_LIFECYCLE = frozenset(
    {"clone", "enqueue", "dequeue", "publish", "reset", "archive", "unarchive", "start"}
)
# Path parameters whose object the per-object rules check against the key's own task.
_OWN_OBJECTS = ("key", "upload_id", "model_id")


def require_task_key_route(
    principal: Principal, method: str, path: str, params: Mapping[str, Any], need: Role
) -> None:
    """Refuse what a task's key may never do; nothing for any other principal."""
    scope = principal.task
    if scope is None:
        return
    if (method, path) == ("POST", _LIVE):
        return  # DVCLive's events: a task's key records them on its own task (dvc_live)
    if not path.startswith(f"{_API}/"):
        raise Forbidden("a task's key is for the API, not for the web pages")
    if path.startswith(_ACCOUNT_PATHS):
        raise Forbidden("a task's key may not read or manage accounts and keys")
    if need is Role.VIEWER:
        return
    own = f"{_API}/tasks/{scope.task_id}"
    if params.get("task_id") == scope.task_id and (path == own or path.startswith(own + "/")):
        action = path[len(own) + 1 :]
        if (method == "DELETE" and path == own) or (method == "POST" and action in _LIFECYCLE):
            raise Forbidden("a task's key may not move its task through the lifecycle")
        return
    if scope.launches and path.startswith(f"{_API}/tasks") and method != "DELETE":
        return  # another task of its project: the per-object rules decide (server.access)
    if any(name in params for name in _OWN_OBJECTS) or (method, path) == ("POST", f"{_API}/models"):
        return
    raise Forbidden("a task's key writes only its own task: its outputs, files and models")
