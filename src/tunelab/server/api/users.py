"""Accounts: an admin lists, creates and disables them; anyone reads their own.

Disabling an account ends its web sessions and stops its API keys at once; the account
stays, so what it changed still names it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from tunelab.domain.access import UserKind
from tunelab.server import access
from tunelab.server.api.account_models import UserCreate, UserUpdate
from tunelab.server.api.deps import Conn, Who
from tunelab.store import users

router = APIRouter(tags=["users"])


@router.get("/users/me")
def who_am_i(conn: Conn, who: Who) -> dict[str, Any]:
    """The account this request acts for; on a server without login and without a key, no
    account (``"open_access": true``, allowed everything)."""
    if who.user_id is None:
        return {"user": None, "open_access": who.open_access}
    return {"user": users.get_user(conn, who.user_id), "open_access": who.open_access}


@router.get("/users")
def list_users(conn: Conn, who: Who) -> dict[str, Any]:
    access.require_admin(who)
    return {"items": users.list_users(conn)}


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, conn: Conn, who: Who) -> dict[str, Any]:
    access.require_admin(who)
    return users.create_user(conn, body.name, kind=UserKind(body.kind), password=body.password)


@router.patch("/users/{user_id}")
def update_user(user_id: str, body: UserUpdate, conn: Conn, who: Who) -> dict[str, Any]:
    access.require_admin(who)
    if body.password is not None:
        users.set_password(conn, user_id, body.password)
    if body.disabled is not None:
        users.set_disabled(conn, user_id, body.disabled, by=who.user_id)
    return users.get_user(conn, user_id)
