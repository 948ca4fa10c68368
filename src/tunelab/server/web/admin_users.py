"""The Users page (admins only): every account, a form to make one, disable and enable, and
each account's API keys, where an admin makes the key an agent's worker account runs with.

The rules are the API's (``server.api.users``, ``server.api.tokens``): a member or a new
admin needs a password, a worker account none; an admin cannot disable their own account;
disabling ends the account's web sessions, and its keys stop working with it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tunelab.domain.access import Principal, UserKind
from tunelab.errors import InvalidInput
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.db_gate import in_transaction
from tunelab.server.password_check import new_password_hash
from tunelab.server.web.account import NO_STORE, key_name
from tunelab.server.web.action_form import Form
from tunelab.server.web.templating import is_htmx, render
from tunelab.server.web.toasts import toast_headers
from tunelab.store import auth_tokens, users

router = APIRouter(include_in_schema=False)

KINDS = tuple(kind.value for kind in (UserKind.MEMBER, UserKind.ADMIN, UserKind.WORKER))
# The users table refreshes itself on this event: a key made or revoked in the keys modal.
USERS_CHANGED = "users-changed"


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, conn: Conn, who: Who) -> Response:
    access.require_admin(who)
    return _users(request, conn, who)


# Async, so the password is hashed before the transaction opens (``server.password_check``).
@router.post("/admin/users", response_model=None)
async def create_user(request: Request, who: Who, form: Form) -> Response:
    access.require_admin(who)
    kind = form.get("kind", UserKind.MEMBER.value)
    if kind not in KINDS:
        raise InvalidInput(f"an account's kind is one of {', '.join(KINDS)}, got {kind!r}")
    hashed = await new_password_hash(request, form.get("password") or None)
    name = form.get("name").strip()
    return await in_transaction(request, _create_user, request, who, name, kind, hashed)


def _create_user(
    conn: sa.Connection, request: Request, who: Principal, name: str, kind: str, hashed: str | None
) -> Response:
    made = users.create_user(conn, name, kind=UserKind(kind), password_hash=hashed)
    said = f"Created the {kind} account {made['name']}"
    if kind == UserKind.WORKER.value:
        said += ": make its API key with New key"
    return _users(request, conn, who, said)


@router.post("/admin/users/{user_id}/disable", response_model=None)
def disable_user(user_id: str, request: Request, conn: Conn, who: Who) -> Response:
    access.require_admin(who)
    user = users.set_disabled(conn, user_id, True, by=who.user_id)
    said = f"Disabled {user['name']}: signed out everywhere, and their API keys no longer work"
    return _users(request, conn, who, said)


@router.post("/admin/users/{user_id}/enable", response_model=None)
def enable_user(user_id: str, request: Request, conn: Conn, who: Who) -> Response:
    access.require_admin(who)
    user = users.set_disabled(conn, user_id, False)
    return _users(
        request, conn, who, f"Enabled {user['name']}: their keys that were not revoked work again"
    )


# --- one account's keys (a modal) -----------------------------------------------------------


@router.get("/admin/users/{user_id}/tokens", response_class=HTMLResponse)
def keys_modal(user_id: str, request: Request, conn: Conn, who: Who) -> HTMLResponse:
    access.require_admin(who)
    return _keys(request, conn, user_id)


@router.post("/admin/users/{user_id}/tokens", response_class=HTMLResponse)
def create_key(user_id: str, request: Request, conn: Conn, who: Who, form: Form) -> HTMLResponse:
    """A key for the account, shown in this answer only."""
    access.require_admin(who)
    users.get_user(conn, user_id)  # a 404 for an unknown account
    record, token = auth_tokens.create_token(conn, user_id, key_name(form.get("name")))
    said = toast_headers(f"Made a key for {record['user']}", events=(USERS_CHANGED,))
    return _keys(request, conn, user_id, new_key={**record, "token": token}, headers=said)


@router.post("/admin/users/{user_id}/tokens/{token_id}/revoke", response_model=None)
def revoke_key(user_id: str, token_id: str, request: Request, conn: Conn, who: Who) -> Response:
    access.require_admin(who)
    record = auth_tokens.revoke_token(conn, token_id, user_id=user_id)
    if not is_htmx(request):
        return RedirectResponse("/admin/users", status_code=303)
    said = f"Revoked {record['user']}'s key {record['prefix']}…: it no longer works"
    return _keys(request, conn, user_id, headers=toast_headers(said, events=(USERS_CHANGED,)))


# --- answers --------------------------------------------------------------------------------


def _users(request: Request, conn: sa.Connection, who: Principal, said: str = "") -> Response:
    """The users table for an htmx request (with a toast saying ``said``), the page for a
    plain GET, and back to the page after a plain form's post."""
    if request.method == "POST" and not is_htmx(request):
        return RedirectResponse("/admin/users", status_code=303)
    live = Counter(k["user_id"] for k in auth_tokens.list_tokens(conn, None) if not k["revoked"])
    context: dict[str, Any] = {
        "users": users.list_users(conn),
        "live_keys": live,
        "me": who.user_id,
        "kinds": KINDS,
    }
    # Not kept by the browser either: the page may have shown a key in its modal.
    if not is_htmx(request):
        return render(request, "admin/users.html", context, headers=NO_STORE)
    headers = {**NO_STORE, **(toast_headers(said) if said else {})}
    return render(request, "admin/_users.html", context, headers=headers)


def _keys(
    request: Request,
    conn: sa.Connection,
    user_id: str,
    *,
    new_key: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The account's keys and a form for a new one: the modal's body, or a page of its own."""
    user = users.get_user(conn, user_id)
    context: dict[str, Any] = {
        "user": user,
        "keys": auth_tokens.list_tokens(conn, user_id),
        "new_key": new_key,
        "in_modal": is_htmx(request),
    }
    headers = {**NO_STORE, **(headers or {})}
    if is_htmx(request):
        return render(request, "admin/_keys.html", context, headers=headers)
    page = {**context, "body": "admin/_keys.html", "title": f"API keys of {user['name']}"}
    return render(request, "actions/page.html", page, headers=headers)
