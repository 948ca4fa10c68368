"""Web sessions: a random cookie value whose SHA-256 names a row, valid until it expires."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import sqlalchemy as sa

from tunelab.store.lookup import now
from tunelab.store.schema import users, web_sessions

SESSION_SECONDS = 14 * 24 * 3600


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def create_session(conn: sa.Connection, user_id: str) -> str:
    """A new session's cookie value (the only copy: the store keeps its hash)."""
    value = secrets.token_urlsafe(32)
    stamp = now()
    # Expired sessions go when someone logs in: no sweeper needed.
    conn.execute(web_sessions.delete().where(web_sessions.c.expires < stamp))
    conn.execute(
        web_sessions.insert().values(
            id_hash=_hash(value), user_id=user_id, created=stamp, expires=stamp + SESSION_SECONDS
        )
    )
    return value


def user_for_session(conn: sa.Connection, value: str) -> sa.Row[Any] | None:
    return conn.execute(
        sa.select(users)
        .join(web_sessions, web_sessions.c.user_id == users.c.id)
        .where(
            web_sessions.c.id_hash == _hash(value),
            web_sessions.c.expires > now(),
            users.c.disabled == sa.false(),
        )
    ).first()


def end_session(conn: sa.Connection, value: str) -> None:
    conn.execute(web_sessions.delete().where(web_sessions.c.id_hash == _hash(value)))


def end_sessions_of(conn: sa.Connection, user_id: str) -> None:
    """Log a user out everywhere (disabled, or a new password)."""
    conn.execute(web_sessions.delete().where(web_sessions.c.user_id == user_id))
