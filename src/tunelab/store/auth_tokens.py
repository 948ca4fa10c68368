"""API keys: made for a user and shown once, kept as a SHA-256, revocable, last use noted.

A key is ``tl_`` and 43 characters of ``secrets.token_urlsafe(32)`` (256 random bits), so a
fast hash is safe to keep: nothing about it can be guessed faster than the key itself.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import sqlalchemy as sa

from tunelab.errors import NotFound
from tunelab.store.lookup import new_id, now
from tunelab.store.schema import api_tokens, users

TOKEN_PREFIX = "tl_"
# Noting each use would write on every request; once a minute is enough to show "last used".
_LAST_USED_EVERY = 60.0


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create_token(conn: sa.Connection, user_id: str, name: str = "") -> tuple[dict[str, Any], str]:
    """The new key's record and the key itself, which is not kept and cannot be shown again."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = new_id()
    conn.execute(
        api_tokens.insert().values(
            id=token_id,
            user_id=user_id,
            name=str(name)[:128],
            token_hash=token_hash(token),
            prefix=token[:10],
            created=now(),
        )
    )
    return _get(conn, token_id), token


def user_for_token(conn: sa.Connection, token: str) -> sa.Row[Any] | None:
    """The enabled user a live key belongs to (with ``token_id`` and ``token_used``); None
    for any other key. A read only: ``note_use`` notes the use, when ``use_due``."""
    found = conn.execute(
        sa.select(
            users, api_tokens.c.id.label("token_id"), api_tokens.c.last_used.label("token_used")
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(
            api_tokens.c.token_hash == token_hash(token),
            api_tokens.c.revoked.is_(None),
            users.c.disabled == sa.false(),
        )
    ).first()
    return found


def use_due(found: sa.Row[Any]) -> bool:
    """Whether the use of the key ``user_for_token`` found is to be noted now."""
    return found.token_used is None or now() - found.token_used > _LAST_USED_EVERY


def note_use(conn: sa.Connection, token_id: str) -> None:
    conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(last_used=now()))


def list_tokens(conn: sa.Connection, user_id: str | None) -> list[dict[str, Any]]:
    """A user's keys, newest first (None: everyone's); never the keys themselves."""
    query = _with_user().order_by(api_tokens.c.created.desc())
    if user_id is not None:
        query = query.where(api_tokens.c.user_id == user_id)
    return [_as_dict(row) for row in conn.execute(query)]


def revoke_token(conn: sa.Connection, token_id: str, *, user_id: str | None) -> dict[str, Any]:
    """Revoke a key; ``user_id`` limits it to that user's keys (None: an admin, any key)."""
    where = [api_tokens.c.id == token_id]
    if user_id is not None:
        where.append(api_tokens.c.user_id == user_id)
    if conn.execute(sa.select(api_tokens.c.id).where(*where)).first() is None:
        raise NotFound(f"no API key with id {token_id!r}")
    conn.execute(
        api_tokens.update().where(*where, api_tokens.c.revoked.is_(None)).values(revoked=now())
    )
    return _get(conn, token_id)


def _get(conn: sa.Connection, token_id: str) -> dict[str, Any]:
    row = conn.execute(_with_user().where(api_tokens.c.id == token_id)).one()
    return _as_dict(row)


def _with_user() -> sa.Select[Any]:
    return sa.select(api_tokens, users.c.name.label("user_name")).join(
        users, users.c.id == api_tokens.c.user_id
    )


def _as_dict(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "user_id": row.user_id,
        "user": row.user_name,
        "name": row.name,
        "prefix": row.prefix,
        "created": row.created,
        "last_used": row.last_used,
        "revoked": row.revoked,
    }
