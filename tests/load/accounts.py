"""Accounts for a load on a server that asks for login: the clients log with a member's key
(they own the project they create), the agents with a worker account's key, and the load's
own reads and checks with an admin's."""

from __future__ import annotations

from dataclasses import dataclass

from tests.accounts import make_accounts


@dataclass(frozen=True)
class LoadKeys:
    admin: str
    client: str
    agent: str


def make_load_accounts(database_url: str) -> LoadKeys:
    made = make_accounts(
        database_url,
        {"load-admin": "admin", "load-clients": "member", "load-agents": "worker"},
        key_name="load",
    )
    return LoadKeys(
        admin=made["load-admin"].key, client=made["load-clients"].key, agent=made["load-agents"].key
    )
