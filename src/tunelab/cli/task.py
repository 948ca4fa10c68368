"""``tunelab task``: list, inspect, clone, tune, enqueue and manage tasks on the server.

Example::

    tunelab task list --project vision --status running
    tunelab task show 3f1c0a...
    tunelab task clone 3f1c0a... --project vision/tuned       # prints the draft's id
    tunelab task set-param 9a2b... Args/lr=0.01 General/batch=64
    tunelab task set-param 9a2b... --add Args/warmup=5          # a parameter it lacks
    tunelab task enqueue 9a2b... --queue gpu
    tunelab task edit 9a2b... --name "lr 0.01" --tag sweep --remove-tag draft
    tunelab task set-input-model 9a2b... 77c0...               # the draft starts from a model
    tunelab task set-resources 9a2b... --gpus 1 --cpus 4 --memory 16G --time 2h
"""

from __future__ import annotations

import json
from typing import Any

import click

from tunelab.cli.connection import api_client
from tunelab.cli.tables import report_files, size, table, when
from tunelab.domain.terminal_text import plain


@click.group()
def task() -> None:
    """List, inspect and manage tasks: clone, tune, enqueue, stop, reset, publish, archive."""


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
        (t["id"], t["status"], t["project"]["name"], t["name"], when(t["last_update"]))
        for t in found["items"]
    ]
    table(("ID", "STATUS", "PROJECT", "NAME", "UPDATED"), rows)
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
    lines = [
        f"{record['name']}  [{record['status']}]  {record['id']}",
        f"  project:    {record['project']['name']}    type: {record['type']}",
    ]
    if record.get("status_reason"):
        lines.append(f"  reason:     {record['status_reason']}")
    lines.append(f"  created:    {when(record['created'])}")
    if ex.get("repository"):
        where = f"{ex['repository']} @ {ex.get('commit', '')[:12]} ({ex.get('branch', '')})"
        lines.append(f"  repository: {where}")
        lines.append(f"  entry:      {ex.get('entry_point', '')} (in {ex.get('working_dir', '')})")
    for section, params in record.get("hyperparameters", {}).items():
        lines.append(f"  {section}:")
        lines += [f"    {name} = {p['value']}  ({p['type']})" for name, p in params.items()]
    metrics = client.get_metrics(task_id)["metrics"]
    if metrics:
        lines.append("  metrics (last / min / max):")
        for metric, variants in metrics.items():
            for variant, s in variants.items():
                lines.append(f"    {metric}/{variant}: {s['last']} / {s['min']} / {s['max']}")
    for line in lines:
        click.echo(plain(line))


@task.command("clone")
@click.argument("task_id")
@click.option("--name", default=None, help='Name of the clone (default "Clone Of <name>").')
@click.option("--project", default=None, help="Project path of the clone (created if missing).")
@click.option("--comment", default=None, help="Description of the clone.")
@click.option(
    "--set-parent",
    is_flag=True,
    help="Make TASK_ID the clone's parent (default: TASK_ID's parent, or TASK_ID if it has none).",
)
def clone(
    task_id: str, name: str | None, project: str | None, comment: str | None, set_parent: bool
) -> None:
    """Copy a task's inputs into a new, editable draft."""
    made = api_client().clone_task(
        task_id, name=name, project=project, comment=comment, set_as_parent=set_parent
    )
    click.echo(
        f"cloned {task_id} as {made['id']} ({made['status']}) "
        f"in project {made['project']['name']}: {made['name']}"
    )


@task.command("edit")
@click.argument("task_id")
@click.option("--name", default=None, help="New name (any status but published).")
@click.option("--tag", "tags", multiple=True, help="Add this tag (repeatable).")
@click.option("--remove-tag", "untags", multiple=True, help="Remove this tag (repeatable).")
@click.option("--comment", default=None, help="New description.")
def edit(
    task_id: str,
    name: str | None,
    tags: tuple[str, ...],
    untags: tuple[str, ...],
    comment: str | None,
) -> None:
    """Rename a task, add or remove its tags, change its comment.

    Tags and the comment can change in any status; the name in any but published.

        tunelab task edit 3f1c0a... --name "baseline v2" --tag best --remove-tag draft
    """
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if comment is not None:
        changes["comment"] = comment
    if not changes and not tags and not untags:
        raise click.UsageError("nothing to change: give --name, --tag, --remove-tag or --comment")
    client = api_client()
    if tags or untags:
        current = client.get_task(task_id)["tags"]
        kept = [t for t in current if t not in untags]
        changes["tags"] = kept + [t for t in tags if t not in kept]
    done = client.update_task(task_id, **changes)
    click.echo(plain(f"edited {task_id}: {done['name']} [{', '.join(done['tags'])}]"))


@task.command("set-resources")
@click.argument("task_id")
@click.option("--gpus", type=click.IntRange(0), default=None, help="How many GPUs.")
@click.option("--gpu-type", default=None, help="Which GPUs (a100, h100...).")
@click.option("--cpus", type=click.IntRange(1), default=None, help="How many CPUs.")
@click.option("--memory", default=None, help="Memory, like 16G or 512M.")
@click.option("--time", "time_limit", default=None, help="Time limit: 2:00:00, 90m, 2h, 1d.")
@click.option("--cloud", default=None, help="Cloud (for cloud launchers).")
@click.option("--region", default=None, help="Cloud region.")
@click.option("--instance-type", default=None, help="Cloud instance type.")
@click.option("--spot/--no-spot", default=None, help="Spot (preemptible) instances.")
@click.option("--disk-size", default=None, help="Disk, like 100G.")
@click.option("--clear", is_flag=True, help="Ask for nothing first, then what is given.")
def set_resources(task_id: str, clear: bool, **given: Any) -> None:
    """Set what a draft asks of the machine that runs it (a launcher honours it).

    Only the values given change; an empty one ("") clears it.

        tunelab task set-resources 9a2b... --gpus 1 --cpus 4 --memory 16G --time 2h
    """
    changes = {key: value for key, value in given.items() if value is not None}
    if not changes and not clear:
        raise click.UsageError("nothing to change: give --gpus, --cpus, --memory, --time...")
    client = api_client()
    if clear:
        client.update_task(task_id, resources=None)
    done = client.update_task(task_id, resources=changes) if changes else client.get_task(task_id)
    from tunelab.domain.resources import Resources

    asked = Resources.from_dict(done.get("resources") or {}).describe()
    click.echo(f"resources of {task_id}: {asked or 'nothing asked'}")


@task.command("reset")
@click.argument("task_id")
@click.option("--delete-artifacts", is_flag=True, help="Also delete its artifacts from storage.")
def reset(task_id: str, delete_artifacts: bool) -> None:
    """Bring a task back to draft, deleting its outputs and keeping its inputs."""
    answer = api_client().reset_task(task_id, delete_artifacts=delete_artifacts)
    click.echo(f"reset {task_id} to draft: outputs deleted, inputs kept")
    report_files(answer)


@task.command("retry-uploads")
@click.argument("task_id")
def retry_uploads(task_id: str) -> None:
    """Store the task's failed uploads whose files are on this machine (the one that ran it),
    register them on the task and clear their warnings; exit 1 if some are still failed."""
    from tunelab.sdk.config import load_config
    from tunelab.sdk.upload_failures import retry_recorded
    from tunelab.storage import StorageContext

    config = load_config()
    client = api_client()
    left = retry_recorded(client, task_id, StorageContext.from_config(config), click.echo)
    if left:
        raise SystemExit(1)
    click.echo(f"no failed uploads left on {task_id}")


@task.command("push-results")
@click.argument("task_id")
def push_results(task_id: str) -> None:
    """Push a git run's results commit again (the server pushes, with its credentials);
    exit 1 if it is still not pushed.

    Example: ``tunelab task push-results 1a2b3c``"""
    results = api_client().push_git_results(task_id)
    _say_git_results(results)
    if results["state"] != "pushed":
        raise SystemExit(1)


@task.command("create-branch")
@click.argument("task_id")
@click.option("--branch", required=True, help="The new branch's name.")
@click.option("--pull-request", is_flag=True, help="Also open a pull request to its base.")
@click.option("--title", default="", help="The commit's and pull request's title.")
def create_branch(task_id: str, branch: str, pull_request: bool, title: str) -> None:
    """Push a completed experiment's code to a new branch: its results commit, or its
    commit with its recorded uncommitted changes.

    Example: ``tunelab task create-branch 1a2b3c --branch exp/lr-0.05 --pull-request``"""
    _say_git_results(api_client().create_git_branch(task_id, branch, pull_request, title))


def _say_git_results(results: dict[str, Any]) -> None:
    if results["state"] == "pushed":
        click.echo(f"pushed {results['commit'][:12]} to {results['branch']}")
        if results.get("pull_request_url"):
            click.echo(f"pull request: {results['pull_request_url']}")
    else:
        click.echo(f"results not pushed: {results['error']}", err=True)


@task.command("enqueue")
@click.argument("task_id")
@click.option("--queue", default="default", show_default=True, help="Created if missing.")
def enqueue(task_id: str, queue: str) -> None:
    """Queue a draft for an agent to run (a warning on stderr when no worker serves the
    queue: the task waits there until an agent does)."""
    answer = api_client().enqueue_task(task_id, queue=queue)
    click.echo(f"enqueued {task_id} in queue {queue}")
    if answer.get("warning"):
        click.echo(f"warning: {answer['warning']}", err=True)


@task.command("dequeue")
@click.argument("task_id")
def dequeue(task_id: str) -> None:
    """Take a queued task out of its queue (it is a draft again)."""
    api_client().dequeue_task(task_id)
    click.echo(f"dequeued {task_id}: it is a draft again")


@task.command("stop")
@click.argument("task_id")
@click.option("--reason", default="", help="Why (kept as the task's status reason).")
def stop(task_id: str, reason: str) -> None:
    """Stop a queued task now, or ask the agent running a task to stop it."""
    record = api_client().stop_task(task_id, reason=reason)
    if record["status"] == "stopped":
        click.echo(f"stopped {task_id}")
    else:
        click.echo(f"asked the agent running {task_id} to stop it")


@task.command("publish")
@click.argument("task_id")
def publish(task_id: str) -> None:
    """Make a completed or stopped task read-only for good."""
    api_client().publish_task(task_id)
    click.echo(f"published {task_id}: it is read-only for good")


@task.command("archive")
@click.argument("task_id")
@click.option("--undo", is_flag=True, help="Unarchive instead.")
def archive(task_id: str, undo: bool) -> None:
    """Hide a task from default listings (or show it again with --undo)."""
    client = api_client()
    if undo:
        client.unarchive_task(task_id)
        click.echo(f"unarchived {task_id}")
    else:
        client.archive_task(task_id)
        click.echo(f"archived {task_id}")


@task.command("delete")
@click.argument("task_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--delete-artifacts", is_flag=True, help="Also delete its files from storage.")
def delete(task_id: str, yes: bool, delete_artifacts: bool) -> None:
    """Delete a draft, or an archived task (never a published one), with its outputs."""
    client = api_client()
    if not yes:
        record = client.get_task(task_id)
        click.confirm(
            f"delete task {task_id} ({record['name']}, {record['status']}) and its outputs?",
            abort=True,
        )
    answer = client.delete_task(task_id, delete_artifacts=delete_artifacts)
    click.echo(f"deleted {task_id}")
    report_files(answer)


@task.command("artifacts")
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def artifacts(task_id: str, as_json: bool) -> None:
    """List a task's artifacts and models: where they are stored, size and hash."""
    record = api_client().get_task(task_id)
    if as_json:
        keys = ("artifacts", "input_model", "output_models")
        click.echo(json.dumps({k: record.get(k) for k in keys}, indent=2))
        return
    rows = [
        (a["name"], f"{a['type']}/{a['format']}", size(a["size"]), a["sha256"][:12], a["uri"])
        for a in (record.get("artifacts") or {}).values()
    ]
    table(("ARTIFACT", "TYPE", "SIZE", "SHA256", "URI"), rows)
    if record.get("input_model"):
        model = record["input_model"]
        click.echo(
            plain(f"input model:  {model['id']}  {model['name']}  {model.get('uri') or '-'}")
        )
    for model in record.get("output_models") or []:
        click.echo(
            plain(f"output model: {model['id']}  {model['name']}  {model.get('uri') or '-'}")
        )


@task.command("set-input-model")
@click.argument("task_id")
@click.argument("model_id", required=False)
@click.option("--remove", is_flag=True, help="Remove the draft's input model.")
def set_input_model(task_id: str, model_id: str | None, remove: bool) -> None:
    """Choose the model a draft starts from (the code's own choice is replaced), or remove it."""
    if remove == bool(model_id):
        raise click.UsageError("give a MODEL_ID, or --remove")
    api_client().set_input_model(task_id, None if remove else model_id)
    click.echo(
        f"removed the input model of {task_id}"
        if remove
        else f"{task_id} starts from model {model_id}"
    )


@task.command("set-param")
@click.argument("task_id")
@click.argument("assignments", nargs=-1, required=True, metavar="SECTION/NAME=VALUE...")
@click.option("--add", is_flag=True, help="Allow parameters the task does not have yet.")
def set_param(task_id: str, assignments: tuple[str, ...], add: bool) -> None:
    """Set hyperparameters of a draft; others are kept.

    A parameter keeps the type it is stored with (the value must read as one). One the task
    does not have is refused (a typo would be run as a new, unused parameter) unless --add
    is given; it is then text. Example: tunelab task set-param ID Args/lr=0.01 General/batch=64
    """
    wanted = [_assignment(text) for text in assignments]
    client = api_client()
    stored = client.get_task(task_id)["hyperparameters"]
    new = [
        f"{section}/{name}" for section, name, _ in wanted if name not in stored.get(section, {})
    ]
    if new and not add:
        have = sorted(f"{section}/{name}" for section, params in stored.items() for name in params)
        raise click.UsageError(
            f"task {task_id} has no parameter {', '.join(new)} (it has: "
            f"{', '.join(have) or 'none'}); give --add to add new parameters"
        )
    sections: dict[str, dict[str, dict[str, str]]] = {}
    shown = []
    for section, name, value in wanted:
        old = stored.get(section, {}).get(name, {})
        kind = old.get("type", "str")
        body = {"value": _typed(section, name, value, kind), "type": kind}
        body["description"] = old.get("description", "")
        sections.setdefault(section, {})[name] = body
        shown.append(f"{section}/{name}={body['value']} ({kind})")
    client.set_hyperparameters(task_id, sections)
    click.echo(f"set {', '.join(shown)} on {task_id}")


def _assignment(text: str) -> tuple[str, str, str]:
    key, equals, value = text.partition("=")
    section, slash, name = key.partition("/")
    if not equals or not slash or not section or not name:
        raise click.UsageError(f"expected SECTION/NAME=VALUE (e.g. Args/lr=0.01), got {text!r}")
    return section, name, value


def _typed(section: str, name: str, value: str, kind: str) -> str:
    """``value`` checked against the stored type; booleans spelled as Python prints them."""
    from tunelab.sdk.parameters import cast_text

    try:
        cast = cast_text(value, None, kind)
    except ValueError as exc:
        raise click.UsageError(f"{section}/{name} is stored as {kind}: {exc}") from None
    return str(cast) if kind == "bool" else value
