"""``tunelab project``: a project's link to its git repository.

Example::

    tunelab project link-repo vision https://git.example.com/team/vision.git --branch main
    tunelab project show-repo vision
    tunelab project unlink-repo vision

The server fetches the repository with the credentials of its own config file (``[[git]]``
entries); none are given here.
"""

from __future__ import annotations

import click

from tunelab.cli.connection import api_client
from tunelab.errors import NotFound
from tunelab.sdk.transport import ApiClient


@click.group()
def project() -> None:
    """Link projects to git repositories."""


@project.command("link-repo")
@click.argument("name")
@click.argument("url")
@click.option("--branch", default="main", show_default=True, help="The default branch.")
@click.option("--params-file", "params_files", multiple=True, help="A parameter file (repeat).")
@click.option("--metrics-file", "metrics_files", multiple=True, help="A metrics file (repeat).")
def link_repo(
    name: str, url: str, branch: str, params_files: tuple[str, ...], metrics_files: tuple[str, ...]
) -> None:
    """Link project NAME to the git repository at URL (https://…, ssh://…, user@host:path,
    or, for admins, a directory on the server)."""
    client = api_client()
    body = {
        "url": url,
        "default_branch": branch,
        "params_files": list(params_files),
        "metrics_files": list(metrics_files),
    }
    linked = client.link_repository(_project_id(client, name), body)
    click.echo(f"{name} linked to {linked['url']} (branch {linked['default_branch']})")


@project.command("unlink-repo")
@click.argument("name")
def unlink_repo(name: str) -> None:
    """Unlink project NAME from its repository (the server drops its copy)."""
    client = api_client()
    client.unlink_repository(_project_id(client, name))
    click.echo(f"{name} is linked to no repository now")


@project.command("show-repo")
@click.argument("name")
def show_repo(name: str) -> None:
    """The repository project NAME is linked to."""
    client = api_client()
    link = client.get_repository(_project_id(client, name))
    click.echo(f"url:            {link['url']}")
    click.echo(f"default branch: {link['default_branch']}")
    click.echo(f"params files:   {', '.join(link['params_files']) or '-'}")
    click.echo(f"metrics files:  {', '.join(link['metrics_files']) or '-'}")


def _project_id(client: ApiClient, name: str) -> str:
    for found in client.list_projects()["items"]:
        if found["name"] == name or found["id"] == name:
            return str(found["id"])
    raise NotFound(f"no project named {name!r}")
