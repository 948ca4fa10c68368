"""Accounts: an admin lists, creates and disables them; anyone reads their own.

Disabling an account ends its web sessions and stops its API keys at once; the account
stays, so what it changed still names it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, status

from tunelab.domain.access import UserKind
from tunelab.server import access
from tunelab.server.api.account_models import UserCreate, UserUpdate
from tunelab.server.api.deps import Conn, Who
from tunelab.server.db_gate import in_transaction
from tunelab.server.password_check import new_password_hash
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


# Async, so the password is hashed before the transaction opens (``server.password_check``).
@router.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, request: Request, who: Who) -> dict[str, Any]:
    access.require_admin(who)
    hashed = await new_password_hash(request, body.password)
    kind = UserKind(body.kind)
    return await in_transaction(
        request, users.create_user, body.name, kind=kind, password_hash=hashed
    )


@router.patch("/users/{user_id}")
async def update_user(user_id: str, body: UserUpdate, request: Request, who: Who) -> dict[str, Any]:
    access.require_admin(who)
    hashed = await new_password_hash(request, body.password)
    return await in_transaction(request, _update, user_id, hashed, body.disabled, who.user_id)


def _update(
    conn: sa.Connection, user_id: str, hashed: str | None, disabled: bool | None, by: str | None
) -> dict[str, Any]:
    if hashed is not None:
        users.set_password(conn, user_id, password_hash=hashed)
    if disabled is not None:
        users.set_disabled(conn, user_id, disabled, by=by)
    return users.get_user(conn, user_id)
