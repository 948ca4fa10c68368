"""Accounts for tests of a server that asks for login, made in its store before it starts,
as ``tunelab user create`` and ``tunelab token create`` would.

    accounts = make_accounts(sqlite_url(data_dir), {"root": "admin", "bob": "member"})
    server = ServerProcess(data_dir, env=AUTH_ON)
    headers = {"Authorization": f"Bearer {accounts['bob'].key}"}

or, for a module's API tests, the server and one API client per account at once::

    with login_server(data_dir, {"root": "admin", "bob": "member"}) as (server, clients):
        clients["bob"].get("/tasks")
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.services import ServerProcess
from tunelab.domain.access import UserKind
from tunelab.store import auth_tokens, migrations, users
from tunelab.store.engine import create_engine, sqlite_url

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


@contextlib.contextmanager
def login_server(
    data_dir: Path,
    kinds: Mapping[str, UserKind | str],
    *,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[ServerProcess, dict[str, httpx.Client]]]:
    """A server asking for login, its store ``database_url`` (a SQLite file in ``data_dir``
    when None) holding the named accounts, and an API client (``/api/v1``) for each."""
    made = make_accounts(database_url or sqlite_url(data_dir), kinds)
    server = ServerProcess(data_dir, database_url=database_url, env={**AUTH_ON, **(env or {})})
    server.start()
    clients = {
        name: httpx.Client(
            base_url=f"{server.url}/api/v1",
            headers={"Authorization": f"Bearer {account.key}"},
            timeout=30,
        )
        for name, account in made.items()
    }
    try:
        yield server, clients
    finally:
        for client in clients.values():
            client.close()
        server.stop()
