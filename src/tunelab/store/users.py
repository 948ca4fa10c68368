"""Accounts: created, read, checked against a password, disabled.

Passwords are hashed with argon2id (``argon2-cffi``); a user row never leaves this module
with its hash (a login's ``LoginCandidate`` carries it to the check and no further).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
    conn: sa.Connection,
    name: str,
    *,
    kind: UserKind,
    password: str | None = None,
    password_hash: str | None = None,
) -> dict[str, Any]:
    """A new account; its password given as is (hashed here, inside ``conn``'s transaction:
    fine for the CLI) or as ``hash_password`` made it beforehand (the server hashes with no
    transaction open)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            "a user name is 1 to 128 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    if kind is not UserKind.WORKER and password is None and password_hash is None:
        raise InvalidInput("a user who logs in to the web app needs a password")
    if password is not None:
        password_hash = hash_password(password)
    if conn.execute(sa.select(users.c.id).where(users.c.name == name)).first():
        raise Conflict(f"a user named {name!r} already exists")
    user_id = new_id()
    conn.execute(
        users.insert().values(
            id=user_id,
            name=name,
            kind=kind.value,
            password_hash=password_hash,
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


@dataclass(frozen=True)
class LoginCandidate:
    """What a login checks a password against, read in a short transaction so the slow hash
    runs with no transaction open: ``user_id`` is None for a name that cannot log in (unknown,
    disabled, or without a password), whose ``password_hash`` is a dummy that costs the same
    to check."""

    user_id: str | None
    password_hash: str


def login_candidate(conn: sa.Connection, name: str) -> LoginCandidate:
    row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    if row is None or not row.password_hash or row.disabled:
        return LoginCandidate(None, _DUMMY_HASH)
    return LoginCandidate(row.id, row.password_hash)


def password_matches(candidate: LoginCandidate, password: str) -> bool:
    """Whether ``password`` is the candidate's (argon2: tens of milliseconds of CPU and
    memory; call it with no transaction open). Always False for a name that cannot log in."""
    try:
        _hasher.verify(candidate.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    return candidate.user_id is not None


def still_matches(conn: sa.Connection, candidate: LoginCandidate) -> bool:
    """Whether the account is as it was when its password was checked: not disabled since,
    its password not changed since (either would have ended the session about to start)."""
    row = conn.execute(
        sa.select(users.c.password_hash, users.c.disabled).where(users.c.id == candidate.user_id)
    ).first()
    return row is not None and not row.disabled and row.password_hash == candidate.password_hash


def set_password(
    conn: sa.Connection,
    user_id: str,
    password: str | None = None,
    *,
    password_hash: str | None = None,
) -> None:
    """A new password (as is, or as ``hash_password`` made it); whoever is signed in with
    the old one is signed out."""
    if password is not None:
        password_hash = hash_password(password)
    if password_hash is None:
        raise InvalidInput("a new password is needed")
    get_user(conn, user_id)
    conn.execute(users.update().where(users.c.id == user_id).values(password_hash=password_hash))
    end_sessions_of(conn, user_id)


def hash_password(password: str) -> str:
    """The stored form of a new password, once it is long enough (argon2id: tens of
    milliseconds of CPU; the server calls it with no transaction open)."""
    _check_password_strength(password)
    return _hasher.hash(password)


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
