"""``tunelab project``: a project's link to its git repository.

Example::

    tunelab project link-repo vision https://git.example.com/team/vision.git --branch main
    tunelab project show-repo vision
    tunelab project unlink-repo vision
    tunelab project ci-workflow --project vision --runner self-hosted --label gpu > tunelab.yml

The server fetches the repository with the credentials of its own config file (``[[git]]``
entries); none are given here.
"""

from __future__ import annotations

from typing import Any

import click

from tunelab.cli.connection import api_client
from tunelab.errors import NotFound
from tunelab.sdk.transport import ApiClient


@click.group()
def project() -> None:
    """Link projects to git repositories and write their CI setup."""


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


@project.command("ci-workflow")
@click.option("--project", "name", help="Start from this project's saved CI settings.")
@click.option(
    "--forge",
    type=click.Choice(["github", "gitlab"]),
    default="github",
    show_default=True,
    help="GitHub Actions workflow or GitLab CI jobs.",
)
@click.option("--runner", type=click.Choice(["hosted", "self-hosted", "cloud"]))
@click.option("--cloud", type=click.Choice(["aws", "gcp", "azure", "kubernetes"]))
@click.option("--region", help="Cloud runner: the region.")
@click.option("--instance-type", help="Cloud runner: the instance type.")
@click.option("--gpu", help="Cloud runner: the GPU ('' for none).")
@click.option("--spot/--no-spot", default=None, help="Cloud runner: a spot instance.")
@click.option("--disk-size", type=int, help="Cloud runner: disk size in GB.")
@click.option("--reuse/--no-reuse", default=None, help="Cloud runner: keep it for the next task.")
@click.option("--label", "labels", multiple=True, help="A runner label (repeat).")
@click.option("--script", help="The job script (default: tunelab agent execute).")
@click.option("--package", help="What pip installs for Tunelab (a name, version or wheel URL).")
@click.option("--python-version", help="The job's Python.")
@click.option("--workflow-file", help="The workflow's file name (GitHub).")
@click.option("--save", is_flag=True, help="Save the settings on --project.")
def ci_workflow(name: str | None, forge: str, save: bool, **fields: Any) -> None:
    """Print the CI file that runs Tunelab tasks from a repository (what the CI setup page
    shows), from the project's saved settings and the options given."""
    from tunelab.gitops.ci_settings import CiSettings
    from tunelab.gitops.ci_workflow import render_all

    values: dict[str, Any] = {}
    client = None
    if name is not None:
        client = api_client()
        project_id = _project_id(client, name)
        values = dict(client.get_ci_settings(project_id)["settings"])
    elif save:
        raise click.UsageError("--save needs --project")
    given = {k: v for k, v in fields.items() if v is not None and v != ()}
    if "labels" in given:
        given["labels"] = list(given["labels"])
    settings = CiSettings.from_dict({**values, **given})
    if save and client is not None:
        client.save_ci_settings(project_id, settings.to_dict())
        click.echo(f"saved the CI settings of {name}", err=True)
    click.echo(render_all(settings)[forge], nl=False)


def _project_id(client: ApiClient, name: str) -> str:
    for found in client.list_projects()["items"]:
        if found["name"] == name or found["id"] == name:
            return str(found["id"])
    raise NotFound(f"no project named {name!r}")
