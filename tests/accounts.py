"""Accounts for tests of a server that asks for login, made in its store before it starts,
as ``tunelab user create`` and ``tunelab token create`` would.

    accounts = make_accounts(sqlite_url(data_dir), {"root": "admin", "bob": "member"})
    server = ServerProcess(data_dir, env=AUTH_ON)
    headers = {"Authorization": f"Bearer {accounts['bob'].key}"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tunelab.domain.access import UserKind
from tunelab.store import auth_tokens, migrations, users
from tunelab.store.engine import create_engine

# The server's environment asking for login on a loopback address.
AUTH_ON = {"TUNELAB_AUTH": "on"}
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Account:
    id: str
    key: str  # an API key of the account's


def make_accounts(
    database_url: str,
    kinds: Mapping[str, UserKind | str],
    *,
    password: str = PASSWORD,
    key_name: str = "test",
) -> dict[str, Account]:
    """Each named account of its kind (admins and members with ``password``, worker
    accounts without one), with one API key each; the database is migrated first."""
    engine = create_engine(database_url)
    migrations.upgrade(engine)
    made: dict[str, Account] = {}
    try:
        with engine.begin() as conn:
            for name, kind in kinds.items():
                kind = UserKind(kind)
                secret = None if kind is UserKind.WORKER else password
                user = users.create_user(conn, name, kind=kind, password=secret)
                key = auth_tokens.create_token(conn, user["id"], key_name)[1]
                made[name] = Account(id=user["id"], key=key)
    finally:
        engine.dispose()
    return made
