"""Who is asking: an API key (``Authorization: Bearer tl_…``) or a web session cookie.

With auth off (the embedded default, bound to 127.0.0.1) every request is ``OPEN``; a valid
key or session still names the user, so changes record who made them. With auth on, a
request without valid credentials is refused (401, or the login page for a page).

A task's key (``tlt_…``, ``store.task_keys``) acts for the account that enqueued the task,
scoped to that task (``Principal.task``), and only while the task runs.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Request

from tunelab.domain.access import LAUNCHING_TYPES, OPEN, Principal, TaskScope, UserKind
from tunelab.errors import Unauthorized
from tunelab.store.auth_tokens import use_due, user_for_token
from tunelab.store.task_keys import TASK_KEY_PREFIX, TaskKeyHolder, key_for_token
from tunelab.store.web_sessions import user_for_session

SESSION_COOKIE = "tunelab_session"
STUDIO_LIVE_PATH = "/api/live"
_BEARER = frozenset({"bearer"})
_STUDIO_SCHEMES = frozenset({"bearer", "token"})


def credentials_user(conn: sa.Connection, request: Request) -> sa.Row[Any] | None:
    """The user the request's key or session cookie belongs to; None when it has neither.
    A key that is not valid raises Unauthorized rather than falling back to the cookie."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in _key_schemes(request) or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <API key>'")
        user = user_for_token(conn, token.strip())
        if user is None:
            raise Unauthorized("this API key is unknown or revoked")
        if use_due(user):  # noted after the lookup, which only reads (``authorize``)
            request.state.token_use = user.token_id
        return user
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return user_for_session(conn, cookie)
    return None


def _key_schemes(request: Request) -> frozenset[str]:
    # DVCLive (dvc-studio-client) sends its key as ``token <key>``, to DVC Studio's path.
    return _STUDIO_SCHEMES if request.url.path == STUDIO_LIVE_PATH else _BEARER


def principal_for(conn: sa.Connection, request: Request, *, required: bool) -> Principal | None:
    """The request's Principal; None when auth is required and the request has none."""
    try:
        holder = _task_key_holder(conn, request)
        if holder is not None:
            return _task_principal(holder, open_access=not required)
        user = credentials_user(conn, request)
    except Unauthorized:
        if required:
            raise
        user = None  # without login a stale key is no reason to refuse
    if user is None:
        return None if required else OPEN
    return Principal(
        user_id=user.id, name=user.name, kind=UserKind(user.kind), open_access=not required
    )


def _task_key_holder(conn: sa.Connection, request: Request) -> TaskKeyHolder | None:
    """The task the request's task key is for; None when it carries no task key."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() not in _key_schemes(request) or not token.startswith(TASK_KEY_PREFIX):
        return None
    holder = key_for_token(conn, token)
    if holder is None:
        raise Unauthorized("this task key is unknown, or its task is no longer running")
    return holder


def _task_principal(holder: TaskKeyHolder, *, open_access: bool) -> Principal:
    scope = TaskScope(
        task_id=holder.task_id,
        project_id=holder.project_id,
        launches=holder.task_type in LAUNCHING_TYPES,
    )
    owner = holder.owner
    if owner is None:  # nobody's reads: its own task only
        name = f"task {holder.task_id}"
        return Principal(None, name, UserKind.MEMBER, open_access=open_access, task=scope)
    return Principal(
        user_id=owner.id,
        name=owner.name,
        kind=UserKind(owner.kind),
        open_access=open_access,
        task=scope,
    )
