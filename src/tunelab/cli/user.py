"""``tunelab user`` and ``tunelab token``: accounts and API keys, on the server's machine.

They work on the database directly (like ``tunelab db upgrade``), so the first admin can be
made before the server asks anyone to log in. Users also make their own API keys in the
web app.

Example::

    tunelab user create alice --admin          # asks for a password
    tunelab user create gpu-box --worker       # an agent's account: API keys only
    tunelab token create --user gpu-box        # prints the key once
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tunelab.domain.terminal_text import plain

if TYPE_CHECKING:
    import sqlalchemy as sa

_data_dir = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None
)
_database_url = click.option("--database-url", default=None)


@contextmanager
def _store(data_dir: Path | None, database_url: str | None) -> Iterator[sa.Connection]:
    from tunelab.cli.store_opening import opening_store
    from tunelab.server.settings import ServerSettings
    from tunelab.store import migrations
    from tunelab.store.engine import create_engine

    settings = ServerSettings.from_env(data_dir=data_dir, database_url=database_url)
    with opening_store(settings.database_url):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.database_url)
        migrations.upgrade(engine)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


@click.group()
def user() -> None:
    """Accounts: admins, members, and worker accounts for agents."""


@user.command("create")
@click.argument("name")
@click.option("--admin", "kind", flag_value="admin", help="May do everything, manage users.")
@click.option("--worker", "kind", flag_value="worker", help="An agent's account (API keys only).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_data_dir
@_database_url
def create_user(
    name: str,
    kind: str | None,
    password_stdin: bool,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Create the user NAME (a member unless --admin or --worker)."""
    from tunelab.domain.access import UserKind
    from tunelab.store import users

    chosen = UserKind(kind or "member")
    password = None
    if chosen is not UserKind.WORKER:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _store(data_dir, database_url) as conn:
        made = users.create_user(conn, name, kind=chosen, password=password)
    click.echo(f"created {made['kind']} {made['name']}")


@user.command("list")
@_data_dir
@_database_url
def list_users(data_dir: Path | None, database_url: str | None) -> None:
    """Every account, with its kind."""
    from tunelab.store import users

    with _store(data_dir, database_url) as conn:
        for found in users.list_users(conn):
            state = " (disabled)" if found["disabled"] else ""
            click.echo(f"{plain(found['name'])}\t{found['kind']}{state}")


@click.group()
def token() -> None:
    """API keys for the SDK, the CLI and agents (TUNELAB_API_TOKEN)."""


@token.command("create")
@click.option("--user", "user_name", required=True, help="Whose key it is.")
@click.option("--name", "label", default="", help="A label to tell keys apart.")
@_data_dir
@_database_url
def create_token(
    user_name: str, label: str, data_dir: Path | None, database_url: str | None
) -> None:
    """Make an API key and print it; it is shown this once, only its hash is kept."""
    from tunelab.store import auth_tokens, users

    with _store(data_dir, database_url) as conn:
        owner = users.user_by_name(conn, user_name)
        record, secret = auth_tokens.create_token(conn, owner["id"], label)
    click.echo(secret)
    click.echo(
        f"API key {record['prefix']}… for {user_name}: set TUNELAB_API_TOKEN to it (it is not "
        "shown again)",
        err=True,
    )


@token.command("list")
@click.option("--user", "user_name", required=True)
@_data_dir
@_database_url
def list_tokens(user_name: str, data_dir: Path | None, database_url: str | None) -> None:
    """A user's keys: id, label, prefix, last use, revoked."""
    from tunelab.cli.tables import when
    from tunelab.store import auth_tokens, users

    with _store(data_dir, database_url) as conn:
        owner = users.user_by_name(conn, user_name)
        for key in auth_tokens.list_tokens(conn, owner["id"]):
            revoked = " revoked" if key["revoked"] else ""
            used = when(key["last_used"]) if key["last_used"] else "never used"
            click.echo(f"{key['id']}\t{key['prefix']}…\t{plain(key['name'])}\t{used}{revoked}")


@token.command("revoke")
@click.argument("token_id")
@_data_dir
@_database_url
def revoke_token(token_id: str, data_dir: Path | None, database_url: str | None) -> None:
    """Revoke the key TOKEN_ID: requests with it are refused from now on."""
    from tunelab.store import auth_tokens

    with _store(data_dir, database_url) as conn:
        auth_tokens.revoke_token(conn, token_id, user_id=None)
    click.echo(f"revoked {token_id}")
