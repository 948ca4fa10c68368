"""``tunelab task``: list and inspect tasks on the server.

Example::

    tunelab task list --project vision --status running
    tunelab task show 3f1c0a...
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from tunelab.cli.connection import api_client


@click.group()
def task() -> None:
    """List and inspect tasks."""


@task.command("list")
@click.option("--project", default=None, help="Project path (sub-projects included).")
@click.option("--status", "statuses", multiple=True, help="Only these statuses (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only tasks with all these tags.")
@click.option("--search", default=None, help="Text in the task name.")
@click.option("--order-by", default="-last_update", show_default=True)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_tasks(
    project: str | None,
    statuses: tuple[str, ...],
    tags: tuple[str, ...],
    search: str | None,
    order_by: str,
    limit: int,
    as_json: bool,
) -> None:
    """List tasks, newest first."""
    query: dict[str, Any] = {"order_by": order_by, "page_size": limit}
    if project:
        query["project"] = project
    if statuses:
        query["status"] = list(statuses)
    if tags:
        query["tag"] = list(tags)
    if search:
        query["search"] = search
    found = api_client().list_tasks(**query)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    rows = [
        (t["id"], t["status"], t["project"]["name"], t["name"], _when(t["last_update"]))
        for t in found["items"]
    ]
    _table(("ID", "STATUS", "PROJECT", "NAME", "UPDATED"), rows)
    click.echo(f"{len(rows)} of {found['total']} tasks")


@task.command("show")
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON.")
def show(task_id: str, as_json: bool) -> None:
    """Show one task: status, source, hyperparameters, metrics."""
    client = api_client()
    record = client.get_task(task_id)
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    ex = record["execution"]
    click.echo(f"{record['name']}  [{record['status']}]  {record['id']}")
    click.echo(f"  project:    {record['project']['name']}    type: {record['type']}")
    if record.get("status_reason"):
        click.echo(f"  reason:     {record['status_reason']}")
    click.echo(f"  created:    {_when(record['created'])}")
    if ex.get("repository"):
        click.echo(f"  repository: {ex['repository']} @ {ex.get('commit', '')[:12]} ({ex.get('branch', '')})")
        click.echo(f"  entry:      {ex.get('entry_point', '')} (in {ex.get('working_dir', '')})")
    for section, params in record.get("hyperparameters", {}).items():
        click.echo(f"  {section}:")
        for name, body in params.items():
            click.echo(f"    {name} = {body['value']}  ({body['type']})")
    metrics = client.get_metrics(task_id)["metrics"]
    if metrics:
        click.echo("  metrics (last / min / max):")
        for metric, variants in metrics.items():
            for variant, s in variants.items():
                click.echo(f"    {metric}/{variant}: {s['last']} / {s['min']} / {s['max']}")


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    for row in [headers, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
