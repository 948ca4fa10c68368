"""Accounts for a load on a server that asks for login: the clients log with a member's key
(they own the project they create), the agents with a worker account's key, and the load's
own reads and checks with an admin's. Made in the store before the server starts, as
``tunelab user create`` would."""

from __future__ import annotations

from dataclasses import dataclass

from tunelab.domain.access import UserKind
from tunelab.store import auth_tokens, migrations, users
from tunelab.store.engine import create_engine

# The server's environment for login on a loopback address.
AUTH_ON = {"TUNELAB_AUTH": "on"}


@dataclass(frozen=True)
class LoadKeys:
    admin: str
    client: str
    agent: str


def make_load_accounts(database_url: str) -> LoadKeys:
    engine = create_engine(database_url)
    migrations.upgrade(engine)
    try:
        with engine.begin() as conn:
            keys = {}
            for name, kind in (("load-admin", UserKind.ADMIN), ("load-clients", UserKind.MEMBER),
                               ("load-agents", UserKind.WORKER)):  # fmt: skip
                password = None if kind is UserKind.WORKER else "load password"
                user = users.create_user(conn, name, kind=kind, password=password)
                keys[kind] = auth_tokens.create_token(conn, user["id"], "load")[1]
    finally:
        engine.dispose()
    return LoadKeys(
        admin=keys[UserKind.ADMIN], client=keys[UserKind.MEMBER], agent=keys[UserKind.WORKER]
    )
