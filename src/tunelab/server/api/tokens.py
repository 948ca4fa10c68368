"""API keys: each account makes and revokes its own; an admin, anyone's.

A new key is in the answer to its creation and nowhere else, ever: the server keeps its
SHA-256 (``store.auth_tokens``).
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, status

from tunelab.domain.access import Principal
from tunelab.errors import InvalidInput
from tunelab.server import access
from tunelab.server.api.account_models import TokenCreate
from tunelab.server.api.deps import Conn, Who
from tunelab.store import auth_tokens, users

router = APIRouter(tags=["tokens"])


@router.get("/tokens")
def list_tokens(
    conn: Conn, who: Who, user: Annotated[str | None, Query(max_length=128)] = None
) -> dict[str, Any]:
    """The caller's keys; an admin names ``user`` for another account's, or leaves it out
    on a server without login for every key."""
    if user is not None:
        access.require_admin(who)
        return {"items": auth_tokens.list_tokens(conn, users.user_by_name(conn, user)["id"])}
    return {"items": auth_tokens.list_tokens(conn, who.user_id)}


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, conn: Conn, who: Who) -> dict[str, Any]:
    """The key's record with the key itself in ``token``: shown this once."""
    user_id = _owner(conn, who, body.user)
    record, token = auth_tokens.create_token(conn, user_id, body.name)
    return {**record, "token": token}


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: str, conn: Conn, who: Who) -> dict[str, Any]:
    mine_only = None if who.is_admin else who.user_id
    return auth_tokens.revoke_token(conn, token_id, user_id=mine_only)


def _owner(conn: sa.Connection, who: Principal, name: str | None) -> str:
    if name is not None:
        if name != who.name:
            access.require_admin(who)
        return str(users.user_by_name(conn, name)["id"])
    if who.user_id is None:
        raise InvalidInput(
            "this server runs without login and the request names no account: "
            "say whose key it is with 'user'"
        )
    return who.user_id
