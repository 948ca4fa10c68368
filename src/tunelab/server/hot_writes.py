"""The three writes every recorded run makes, answered without FastAPI's request handling:
creating a task (``POST /api/v1/tasks``), posting a scalar frame
(``POST /api/v1/tasks/{id}/scalars/frame``) and the PATCH that ends it
(``PATCH /api/v1/tasks/{id}``).

A script recording short runs makes these three requests per run, and FastAPI's handling
(matching, solving dependencies, reading and validating the body, serializing the answer)
cost more of the server's CPU than the work itself. Here each is what its route does, step
by step: the same ``authorize`` gate, the same body models, the same transaction functions,
the answer serialized as FastAPI serializes a ``dict[str, Any]``; the app's middlewares
(body limit, input guard, CSRF, timing, security headers) wrap this as they wrap the routes.

Only the plain success is answered here. A request with a query string, another content
type, a body its model refuses, a refusal of the gate, or any error of the work itself goes
to the route as if this were not here, its body replayed: a failed attempt has written
nothing (its transaction rolled back), so the route answers it, with its own error envelope,
as it always did.

Example::

    app.add_middleware(HotWrites)  # first: innermost, inside the guard and the body limit
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tunelab.domain.access import Principal
from tunelab.server.api.scalars import ingest_frame
from tunelab.server.api.task_models import TaskCreate, TaskUpdate
from tunelab.server.api.tasks import write_new_task, write_task_update
from tunelab.server.asgi_body import whole_body
from tunelab.server.authorize import authorize
from tunelab.server.db_gate import in_transaction, run_db

# What a matched request's lane answers: its status and JSON-ready answer.
Lane = Callable[[Request, bytes], Awaitable[tuple[int, dict[str, Any]]]]

_TASK = re.compile(r"/api/v1/tasks/(?P<task_id>[^/]+)")
_FRAME = re.compile(r"/api/v1/tasks/(?P<task_id>[^/]+)/scalars/frame")
# How FastAPI writes an answer its route declares as ``dict[str, Any]``.
_ANSWER = TypeAdapter(dict[str, Any])


async def _create(request: Request, body: bytes) -> tuple[int, dict[str, Any]]:
    fields = TaskCreate.model_validate(_json(request, body))
    return 201, await in_transaction(request, write_new_task, fields, _who(request))


async def _update(request: Request, body: bytes) -> tuple[int, dict[str, Any]]:
    task_id = request.path_params["task_id"]
    changes = TaskUpdate.model_validate(_json(request, body))
    who, force = _who(request), False  # ?force=true has a query string: the route's
    return 200, await in_transaction(request, write_task_update, task_id, changes, who, force)


async def _frame(request: Request, body: bytes) -> tuple[int, dict[str, Any]]:
    engine: sa.Engine = request.app.state.engine
    limit: int = request.app.state.settings.max_batch_points
    return 200, await run_db(
        request, ingest_frame, engine, request.path_params["task_id"], body, limit
    )


def _json(request: Request, body: bytes) -> Any:
    """The body as the route reads it: JSON only when it says so (``application/json``)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise _NotHere
    return json.loads(body)


def _who(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


def _lane(scope: Scope) -> tuple[Lane, dict[str, str]] | None:
    if scope["type"] != "http" or scope.get("query_string") or scope.get("root_path"):
        return None  # served under a prefix, or with a query: the routes match those
    method, path = scope["method"], scope["path"]
    if method == "POST":
        if path == "/api/v1/tasks":
            return _create, {}
        found = _FRAME.fullmatch(path)
        if found:
            return _frame, found.groupdict()
    elif method == "PATCH":
        found = _TASK.fullmatch(path)
        if found:
            return _update, found.groupdict()
    return None


class _NotHere(Exception):
    """This request is the route's to answer."""


class HotWrites:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = _lane(scope)
        if lane is None:
            await self.app(scope, receive, send)
            return
        answer, path_params = lane
        try:
            body = await whole_body(receive)
        except Exception as refused:  # the body limit or the input guard: the route says so
            await self.app(scope, _raising(refused), send)
            return
        if body is None:
            return  # the client went away before its body was in: no one to answer
        # A scope of its own: what the attempt notes (principal, writer) stays out of the
        # route's, should the route answer after all.
        attempt = {**scope, "path_params": path_params, "state": dict(scope.get("state", {}))}
        request = Request(attempt, _replaying(body, receive))
        try:
            await authorize(request)
            status, found = await answer(request, body)
        except Exception:
            await self.app(scope, _replaying(body, receive), send)
            return
        content = _ANSWER.dump_json(found)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(content)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``body`` once, then what the server's says next (a
    disconnect, when it comes)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _raising(refused: Exception) -> Receive:
    async def receive() -> Message:
        raise refused

    return receive
