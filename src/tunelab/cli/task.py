"""``tunelab task``: list and inspect tasks."""

from __future__ import annotations

import click


@click.group()
def task() -> None:
    """Task commands."""
