"""``tunelab``: the entry point. Heavy imports happen inside commands so ``--help`` is instant.

Example::

    tunelab server --data-dir ~/.tunelab
    tunelab task list --project vision --status running
"""

from __future__ import annotations

import sys
from typing import Any

import click

from tunelab.errors import TunelabError


class _Group(click.Group):
    """Turns Tunelab's errors into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TunelabError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(2 if exc.status < 500 else 1)


@click.group(cls=_Group)
@click.version_option(package_name="tunelab")
def cli() -> None:
    """Tunelab: a self-hosted experiment manager."""


def _register() -> None:
    from tunelab.cli import (
        agent,
        db,
        importing,
        launcher,
        model,
        optimize,
        pipeline,
        project,
        queue,
        server,
        sync,
        task,
        user,
    )

    cli.add_command(server.server)
    cli.add_command(db.db)
    cli.add_command(task.task)
    cli.add_command(queue.queue)
    cli.add_command(model.model)
    cli.add_command(project.project)
    cli.add_command(sync.sync)
    cli.add_command(agent.agent)
    cli.add_command(launcher.launcher)
    cli.add_command(user.user)
    cli.add_command(user.token)
    cli.add_command(optimize.optimize)
    cli.add_command(pipeline.pipeline)
    cli.add_command(importing.import_)


_register()


def main() -> None:
    cli(prog_name="tunelab")


if __name__ == "__main__":
    main()
