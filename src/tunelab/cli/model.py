"""``tunelab model``: the model repository: list, inspect, edit, publish and delete models.

Example::

    tunelab model list --project vision --tag best --published
    tunelab model show 77c0...
    tunelab model edit 77c0... --config-file net.yaml --label cat=0 --label dog=1
    tunelab model publish 77c0...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tunelab.cli.connection import api_client
from tunelab.cli.tables import report_files, size, table, when
from tunelab.domain.terminal_text import plain


@click.group()
def model() -> None:
    """List, inspect, edit, publish and delete models."""


@model.command("list")
@click.option("--project", default=None, help="Project path (sub-projects included).")
@click.option("--tag", "tags", multiple=True, help="Only models with all these tags.")
@click.option("--framework", default=None, help='Only this framework (e.g. "PyTorch").')
@click.option("--published/--unpublished", default=None, help="Only published (or unpublished).")
@click.option("--name", default=None, help="Exact model name.")
@click.option("--search", default=None, help="Text in the model name.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_models(
    project: str | None,
    tags: tuple[str, ...],
    framework: str | None,
    published: bool | None,
    name: str | None,
    search: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List models, newest first."""
    query: dict[str, Any] = {
        "project": project,
        "tag": list(tags) or None,
        "framework": framework,
        "published": published,
        "name": name,
        "search": search,
        "order_by": "-created",
        "page_size": limit,
    }
    found = api_client().list_models(**query)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    rows = [
        (
            m["id"],
            "published" if m["published"] else "draft",
            m["project"]["name"],
            m["name"],
            m["framework"] or "-",
            when(m["created"]),
        )
        for m in found["items"]
    ]
    table(("ID", "STATE", "PROJECT", "NAME", "FRAMEWORK", "CREATED"), rows)
    click.echo(f"{len(rows)} of {found['total']} models")


@model.command("show")
@click.argument("model_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON.")
def show(model_id: str, as_json: bool) -> None:
    """Show one model: where its weights are, its configuration and labels."""
    record = api_client().get_model(model_id)
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    state = "published" if record["published"] else "draft"
    click.echo(plain(f"{record['name']}  [{state}]  {record['id']}"))
    click.echo(
        f"  project:   {record['project']['name']}    framework: {record['framework'] or '-'}"
    )
    click.echo(f"  task:      {record['task_id'] or '-'}")
    click.echo(f"  weights:   {record['uri'] or '-'}  ({size(record.get('size'))})")
    click.echo(f"  tags:      {', '.join(record['tags']) or '-'}")
    if record["labels"]:
        labels = ", ".join(f"{k}={v}" for k, v in record["labels"].items())
        click.echo(f"  labels:    {labels}")
    if record["config_text"]:
        click.echo("  configuration:")
        for line in record["config_text"].splitlines():
            click.echo(f"    {line}")


@model.command("edit")
@click.argument("model_id")
@click.option("--name", default=None)
@click.option("--comment", default=None)
@click.option("--config-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--clear-config", is_flag=True, help="Remove the configuration.")
@click.option("--label", "labels", multiple=True, metavar="NAME=INT", help="Replaces all labels.")
@click.option("--clear-labels", is_flag=True, help="Remove every label.")
@click.option("--tag", "tags", multiple=True, help="Replaces all tags.")
def edit(
    model_id: str,
    name: str | None,
    comment: str | None,
    config_file: Path | None,
    clear_config: bool,
    labels: tuple[str, ...],
    clear_labels: bool,
    tags: tuple[str, ...],
) -> None:
    """Edit a model's configuration, label enumeration, tags, name or comment."""
    fields: dict[str, Any] = {}
    if name is not None:
        fields["name"] = name
    if comment is not None:
        fields["comment"] = comment
    if config_file is not None or clear_config:
        fields["config_text"] = config_file.read_text() if config_file else ""
    if labels or clear_labels:
        fields["labels"] = dict(_label(text) for text in labels)
    if tags:
        fields["tags"] = list(tags)
    if not fields:
        raise click.UsageError("nothing to change: give at least one option")
    api_client().update_model(model_id, **fields)
    click.echo(f"updated {', '.join(fields)} of model {model_id}")


@model.command("publish")
@click.argument("model_id")
def publish(model_id: str) -> None:
    """Publish a model: it is read-only from now on."""
    api_client().publish_model(model_id)
    click.echo(f"published model {model_id}")


@model.command("delete")
@click.argument("model_id")
@click.option("--delete-file", is_flag=True, help="Also delete its weights from storage.")
def delete(model_id: str, delete_file: bool) -> None:
    """Delete a model (refused while a task uses it as its input model)."""
    answer = api_client().delete_model(model_id, delete_file=delete_file)
    click.echo(f"deleted model {model_id}")
    report_files(answer)


def _label(text: str) -> tuple[str, int]:
    label, equals, value = text.partition("=")
    try:
        if not equals or not label:
            raise ValueError
        return label, int(value)
    except ValueError:
        raise click.UsageError(f"expected NAME=INT (e.g. cat=0), got {text!r}") from None
