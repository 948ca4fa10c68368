"""``tunelab queue``: the queues on the server and what waits in them.

Example::

    tunelab queue list
    tunelab queue show gpu
"""

from __future__ import annotations

import click

from tunelab.cli.connection import api_client
from tunelab.cli.tables import table, when


@click.group()
def queue() -> None:
    """List queues and show what waits in them."""


@queue.command("list")
def list_queues() -> None:
    """Every queue with its length and the workers serving it."""
    found = api_client().list_queues()["items"]
    rows = [(q["name"], str(q["length"]), ", ".join(q["workers"]) or "-") for q in found]
    table(("QUEUE", "LENGTH", "WORKERS"), rows)


@queue.command("show")
@click.argument("name")
def show(name: str) -> None:
    """The tasks waiting in queue NAME, first in line first."""
    entries = api_client().queue_entries(name)["items"]
    rows = [
        (
            str(i),
            e["task"]["id"],
            e["task"]["project"]["name"],
            e["task"]["name"],
            when(e["added"]),
        )
        for i, e in enumerate(entries, start=1)
    ]
    table(("#", "ID", "PROJECT", "NAME", "ADDED"), rows)
    click.echo(f"{len(rows)} waiting in {name}")
