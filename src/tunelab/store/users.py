"""Accounts: created, read, checked against a password, disabled.

Passwords are hashed with argon2id (``argon2-cffi``); a user row never leaves this module
with its hash.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tunelab.domain.access import UserKind
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store.lookup import new_id, now
from tunelab.store.schema import users
from tunelab.store.web_sessions import end_sessions_of

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()
# Checked when the name is unknown, so a wrong name costs what a wrong password costs.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def create_user(
    conn: sa.Connection, name: str, *, kind: UserKind, password: str | None = None
) -> dict[str, Any]:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            "a user name is 1 to 128 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    if kind is not UserKind.WORKER and password is None:
        raise InvalidInput("a user who logs in to the web app needs a password")
    if password is not None:
        _check_password_strength(password)
    if conn.execute(sa.select(users.c.id).where(users.c.name == name)).first():
        raise Conflict(f"a user named {name!r} already exists")
    user_id = new_id()
    conn.execute(
        users.insert().values(
            id=user_id,
            name=name,
            kind=kind.value,
            password_hash=_hasher.hash(password) if password is not None else None,
            created=now(),
        )
    )
    return get_user(conn, user_id)


def get_user(conn: sa.Connection, user_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"no user with id {user_id!r}")
    return as_dict(row)


def user_by_name(conn: sa.Connection, name: str) -> dict[str, Any]:
    row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    if row is None:
        raise NotFound(f"no user named {name!r}")
    return as_dict(row)


def list_users(conn: sa.Connection) -> list[dict[str, Any]]:
    return [as_dict(row) for row in conn.execute(sa.select(users).order_by(users.c.name))]


def check_password(conn: sa.Connection, name: str, password: str) -> dict[str, Any] | None:
    """The user, when ``name`` and ``password`` match an enabled account; else None."""
    row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not row.password_hash or row.disabled:
        return None
    return as_dict(row)


def set_password(conn: sa.Connection, user_id: str, password: str) -> None:
    """A new password; whoever is signed in with the old one is signed out."""
    _check_password_strength(password)
    get_user(conn, user_id)
    conn.execute(
        users.update().where(users.c.id == user_id).values(password_hash=_hasher.hash(password))
    )
    end_sessions_of(conn, user_id)


def set_disabled(
    conn: sa.Connection, user_id: str, disabled: bool, *, by: str | None = None
) -> dict[str, Any]:
    """Disable (or enable again) an account; ``by`` is the admin's own id. A disabled
    account's web sessions end at once (its keys stop working while it stays disabled); an
    admin cannot lock themself out."""
    if disabled and by is not None and user_id == by:
        raise InvalidInput("an admin cannot disable their own account; ask another admin")
    get_user(conn, user_id)
    conn.execute(users.update().where(users.c.id == user_id).values(disabled=disabled))
    if disabled:
        end_sessions_of(conn, user_id)
    return get_user(conn, user_id)


def admin_exists(conn: sa.Connection) -> bool:
    query = sa.select(users.c.id).where(
        users.c.kind == UserKind.ADMIN.value, users.c.disabled == sa.false()
    )
    return conn.execute(query.limit(1)).first() is not None


def as_dict(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "disabled": bool(row.disabled),
        "created": row.created,
        "has_password": row.password_hash is not None,
    }


def _check_password_strength(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise InvalidInput("a password has at most 1024 characters")
