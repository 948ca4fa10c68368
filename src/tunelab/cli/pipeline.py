"""``tunelab pipeline``: pipeline runs (controller tasks), their steps, and stopping one.

Example::

    tunelab pipeline list --project examples
    tunelab pipeline show 3f1c0a...
    tunelab pipeline stop 3f1c0a...
"""

from __future__ import annotations

import json
from typing import Any

import click

from tunelab.cli.connection import api_client
from tunelab.cli.tables import table, when
from tunelab.domain.terminal_text import plain


@click.group()
def pipeline() -> None:
    """List pipeline runs, show their steps, stop one."""


@pipeline.command("list")
@click.option("--project", default=None, help="Project path (sub-projects included).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
def list_pipelines(project: str | None, limit: int) -> None:
    """Pipeline runs (tasks of type controller), newest first."""
    query: dict[str, Any] = {"type": ["controller"], "page_size": limit}
    if project:
        query["project"] = project
    with api_client() as client:
        found = client.list_tasks(**query)["items"]
    rows = [
        (t["id"], t["status"], t["project"]["name"], t["name"], when(t["last_update"]))
        for t in found
    ]
    table(("ID", "STATUS", "PROJECT", "NAME", "UPDATED"), rows)


@pipeline.command("show")
@click.argument("controller_id")
@click.option("--json", "as_json", is_flag=True, help="Print the recorded graph as JSON.")
def show(controller_id: str, as_json: bool) -> None:
    """The run's status, parameters and steps (status, task, parents, notes)."""
    with api_client() as client:
        record = client.get_task(controller_id)
    graph = _graph(record)
    if as_json:
        click.echo(json.dumps(graph, indent=2))
        return
    reason = f"  ({record['status_reason']})" if record.get("status_reason") else ""
    click.echo(plain(f"{record['name']}  {record['id']}  {record['status']}{reason}"))
    for name, body in (record.get("hyperparameters") or {}).get("Pipeline", {}).items():
        click.echo(f"  {name} = {body['value']}  ({body['type']})")
    rows = [
        (
            step["name"],
            step["status"],
            step.get("task_id") or "-",
            ", ".join(step["parents"]) or "-",
            _note(step),
        )
        for step in graph.get("steps", [])
    ]
    table(("STEP", "STATUS", "TASK", "PARENTS", "NOTE"), rows)


@pipeline.command("stop")
@click.argument("controller_id")
def stop(controller_id: str) -> None:
    """Stop the run: its controller and every step still queued or running."""
    with api_client() as client:
        _graph(client.get_task(controller_id))  # a clear message for a task that is no run
        # The server stops the steps too: the controller may be gone (killed with its agent).
        result = client.stop_pipeline(controller_id, reason="pipeline stopped")
    stopped = len(result["stopped"])
    click.echo(f"stopping pipeline {controller_id} ({stopped} step(s) asked to stop)")


def _graph(record: dict[str, Any]) -> dict[str, Any]:
    entry = (record.get("configuration") or {}).get("Pipeline")
    if record.get("type") != "controller" or not entry:
        raise click.ClickException(f"task {record['id']} is not a pipeline run")
    try:
        graph: dict[str, Any] = json.loads(entry["text"])
    except ValueError:
        msg = f"task {record['id']} has an unreadable pipeline record"
        raise click.ClickException(msg) from None
    return graph


def _note(step: dict[str, Any]) -> str:
    if step.get("cached_from"):
        return f"cached from {step['cached_from']}"
    return str(step.get("reason") or "")
