"""One gate in front of every API route and page: who asks, and may they touch what the
route's path names (a task, a model, a project, a stored file).

Reads (GET, HEAD) need a viewer's role on the project, writes an editor's; a worker account
reads everything and writes only the tasks its workers run. Routes whose path names no
project (lists, creating a task, the queues) are open to any signed-in account and check or
filter by project themselves (``server.access``). A successful write to a task records who
made it in ``tasks.last_changed_by``, in the same transaction (``db_gate.note_writer``).

The check is a short read of its own (no commit), through the database gate like every other;
an API key's use is noted in a write of its own, at most once a minute.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Request

from tunelab.domain.access import OPEN, Principal
from tunelab.errors import Forbidden, TunelabError, Unauthorized
from tunelab.server import access
from tunelab.server.auth import SESSION_COOKIE, principal_for
from tunelab.server.csrf import CSRF_COOKIE, CSRF_HEADER, token_matches
from tunelab.server.db_gate import run_db
from tunelab.server.file_store import FileStore
from tunelab.server.task_key_gate import require_task_key_route
from tunelab.store import auth_tokens
from tunelab.store.engine import read_only

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a run records (points, lines, plots, pings) is not a change to the task: no writer noted
# (and the ingest path spared a write per batch).
_RECORDING = ("/scalars", "/scalars/frame", "/console", "/plots", "/ping")
# Reachable without signing in: the health check and the login page itself.
PUBLIC_PATHS = frozenset({"/api/v1/health", "/login", "/logout"})
# Routes for programs, not browsers: the JSON API, and MLflow's REST API (``server.mlflow``).
_API_PATHS = ("/api/", "/mlflow/")


class LoginRequired(TunelabError):
    """A page asked for without a session: the login page, then back (``next``)."""

    status = 401
    code = "unauthorized"


async def authorize(request: Request) -> None:
    path = request.url.path
    need = access.READ if request.method in _READS else access.WRITE
    if need is access.WRITE:
        _refuse_cross_site(request)
    if path in PUBLIC_PATHS:
        return
    required: bool = request.app.state.settings.auth_required
    if not required and not _has_credentials(request):
        # The server without login, asked by no one in particular: nothing to look up, and
        # no transaction taken (on SQLite every transaction takes the write lock). Its
        # pages still write only with their own CSRF token: anyone may write here, so a
        # form on another site must not.
        if need is access.WRITE and _ambient(request, path):
            _check_csrf(request)
        request.state.principal = OPEN
        return
    principal = await run_db(request, _admit, request, required, need)
    request.state.principal = principal
    if need is access.WRITE and principal.name and not path.endswith(_RECORDING):
        request.state.writer = principal.name  # noted by the route's transaction (db_gate)


def _admit(request: Request, required: bool, need: Any) -> Principal:
    """The request's Principal once it may do what it asks; raises otherwise."""
    path = request.url.path
    engine: sa.Engine = request.app.state.engine
    # A read only, ended without a commit: an agent's idle poll costs no write here either.
    with read_only(engine) as conn:
        principal = principal_for(conn, request, required=required)
        if principal is None:
            if path.startswith(_API_PATHS):
                raise Unauthorized(
                    "this server needs an API key: set TUNELAB_API_TOKEN (or api_token in the "
                    "config file) to a key from the web app or `tunelab token create`"
                )
            raise LoginRequired("please log in")
        if need is access.WRITE and _ambient(request, path):
            _check_csrf(request)
        _check_path(conn, principal, request, need)
    token_use = getattr(request.state, "token_use", None)
    if token_use is not None:  # at most once a minute per key
        with engine.begin() as conn:
            auth_tokens.note_use(conn, token_use)
    return principal


def _refuse_cross_site(request: Request) -> None:
    """Browsers say where a request comes from (``Sec-Fetch-Site``, which no page can set):
    a write sent by another site's page is refused, whatever credentials it carries. Other
    clients (the SDK, agents, curl) send no such header."""
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        raise Forbidden("a write sent from another site's page is refused (cross-site request)")


def _has_credentials(request: Request) -> bool:
    return "authorization" in request.headers or SESSION_COOKIE in request.cookies


def current_principal(request: Request) -> Principal:
    """The Principal ``authorize`` found (routes that filter lists by project use it)."""
    principal: Principal = request.state.principal
    return principal


def _ambient(request: Request, path: str) -> bool:
    """Whether the browser could have sent this request's credentials on its own: any page,
    and an API call carrying the session cookie rather than an API key."""
    if not path.startswith(_API_PATHS):
        return True
    return SESSION_COOKIE in request.cookies and "authorization" not in request.headers


def _check_csrf(request: Request) -> None:
    if not token_matches(request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER)):
        raise Forbidden(
            "this form's security token is missing or stale (CSRF protection); reload the page "
            "and try again"
        )


def _check_path(conn: sa.Connection, principal: Principal, request: Request, need: Any) -> None:
    if principal.is_admin:
        return  # allowed everything: no lookup (an unknown id is the route's own 404)
    params, path = request.path_params, request.url.path
    require_task_key_route(principal, request.method, path, params, need)
    if "task_id" in params:
        starting = request.method == "POST" and path.endswith(f"/tasks/{params['task_id']}/start")
        if not (starting and access.worker_may_start(conn, principal, params["task_id"])):
            access.require_task(conn, principal, params["task_id"], need)
    elif "model_id" in params:
        access.require_model(conn, principal, params["model_id"], need)
    elif "project_id" in params:
        access.require_project_id(conn, principal, params["project_id"], need)
    elif "key" in params:
        access.require_file_key(conn, principal, params["key"], need)
    elif "upload_id" in params:
        # A multi-part upload writes the file its key names, as a PUT of that key would.
        store: FileStore = request.app.state.file_store
        access.require_file_key(conn, principal, store.upload_key(params["upload_id"]), need)
    if path.startswith("/api/v1/workers") and need is access.WRITE:
        access.require_worker_account(principal)
        if "worker_id" in params:
            access.require_worker_id(conn, principal, params["worker_id"])
