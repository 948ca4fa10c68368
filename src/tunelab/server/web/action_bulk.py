"""Bulk actions on the experiments checked in a table: one action applied task by task.

Each task's action is its own transaction: a refusal for one (its status does not allow
it) leaves the others done, and the one toast says how many succeeded and which were
refused, with the store's reason. Files of reset or deleted tasks are deleted (when asked)
after every transaction has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from tunelab.errors import Forbidden, InvalidInput, TunelabError
from tunelab.server import access
from tunelab.server.api.deps import Conn
from tunelab.server.api.lifecycle import WakeWorkers, note_enqueued
from tunelab.server.authorize import current_principal
from tunelab.server.db_gate import in_transaction, note_writer
from tunelab.server.file_cleanup import delete_files
from tunelab.server.web.action_form import Form, changed, files_said, id_list, plural
from tunelab.server.web.experiment_names import checked_text
from tunelab.server.web.queues import picker_queues
from tunelab.server.web.templating import is_htmx, render
from tunelab.store import lifecycle, queues, tasks
from tunelab.store.tags import MAX_TAG_LENGTH

router = APIRouter(include_in_schema=False)

# What the bulk bar offers, in menu order; clone needs a project per task, so it is not here.
# "tag" and "untag" add or remove the form's ``tag`` on each task (any status).
BULK_ACTIONS = (
    "reset",
    "enqueue",
    "dequeue",
    "stop",
    "publish",
    "archive",
    "unarchive",
    "delete",
    "tag",
    "untag",
)
# Those that ask something first (a queue; whether to delete files) in a small modal.
ASKING = ("reset", "enqueue", "delete")
DONE = {
    "reset": "Reset",
    "enqueue": "Enqueued",
    "dequeue": "Dequeued",
    "stop": "Stopped",
    "publish": "Published",
    "archive": "Archived",
    "unarchive": "Unarchived",
    "delete": "Deleted",
    "tag": "Tagged",
    "untag": "Untagged",
}
# Those that take the form's tag.
TAGGING = ("tag", "untag")
# At most this many refusals are named in the toast; the rest are counted.
NAMED_REFUSALS = 5


@dataclass
class Outcome:
    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name or id, reason)
    files: list[str] = field(default_factory=list)


def _action(value: str) -> str:
    if value not in BULK_ACTIONS:
        raise InvalidInput(f"unknown bulk action {value!r}: one of {', '.join(BULK_ACTIONS)}")
    return value


@router.get("/experiments/bulk", response_class=HTMLResponse)
def bulk_modal(request: Request, conn: Conn, form: Form) -> HTMLResponse:
    """The modal of a bulk action that asks first: ``?action=enqueue&ids=a,b``."""
    action = _action(form.get("action"))
    ids = id_list(form.all("ids"))
    if not ids:
        raise InvalidInput("select one or more experiments first")
    context: dict[str, Any] = {"action": action, "ids": ids, "label": DONE[action]}
    if action == "enqueue":
        context["queues"], context["selected"] = picker_queues(request, conn)
    if is_htmx(request):
        return render(request, "actions/bulk.html", context)
    page = {**context, "body": "actions/bulk.html", "title": f"{action.capitalize()} experiments"}
    return render(request, "actions/page.html", page)


@router.post("/experiments/bulk")
async def bulk_action(request: Request, form: Form, _wake: WakeWorkers) -> Response:
    action = _action(form.get("action"))
    ids = id_list(form.all("ids"))
    if not ids:
        raise InvalidInput("select one or more experiments first")
    names = await in_transaction(request, tasks.task_names, ids)
    outcome = Outcome()
    if action in TAGGING:
        argument = checked_text(form.get("tag"), "tag", MAX_TAG_LENGTH)
    else:
        argument = form.get("queue").strip() or queues.DEFAULT_QUEUE
    for task_id in ids:
        try:
            outcome.files += await in_transaction(
                request, _apply, request, action, task_id, argument
            )
        except Forbidden as exc:
            outcome.refused.append((task_id, exc.message))  # its name is not theirs to see
        except TunelabError as exc:
            outcome.refused.append((names.get(task_id, task_id), exc.message))
        else:
            outcome.done.append(task_id)
    wanted = action in ("reset", "delete") and form.checked("delete_artifacts")
    cleanup = await delete_files(
        request, outcome.files if wanted else [], changed_tasks=outcome.done
    )
    message, kind = report(action, len(ids), outcome, argument, cleanup, wanted)
    return changed(request, outcome.done, message, kind=kind)


def _apply(
    conn: sa.Connection, request: Request, action: str, task_id: str, argument: str
) -> list[str]:
    """Apply ``action`` to one task the account may change (``argument``: the queue to
    enqueue in, the tag to add or remove); answers the files it left for deletion."""
    access.require_task(conn, current_principal(request), task_id, access.WRITE)
    note_writer(conn, request, task_id)
    if action == "reset":
        return lifecycle.reset(conn, task_id).files
    if action == "delete":
        return lifecycle.delete(conn, task_id)
    if action == "enqueue":
        lifecycle.enqueue(conn, task_id, argument, current_principal(request).user_id)
        note_enqueued(request, argument)
    elif action == "tag":
        tasks.retag(conn, task_id, add=[argument])
    elif action == "untag":
        tasks.retag(conn, task_id, remove=[argument])
    elif action == "dequeue":
        lifecycle.dequeue(conn, task_id)
    elif action == "stop":
        lifecycle.stop(conn, task_id)
    elif action == "publish":
        lifecycle.publish(conn, task_id)
    elif action == "archive":
        lifecycle.archive(conn, task_id)
    elif action == "unarchive":
        lifecycle.unarchive(conn, task_id)
    return []


def report(
    action: str,
    asked: int,
    outcome: Outcome,
    argument: str,
    cleanup: dict[str, list[Any]],
    wanted: bool,
) -> tuple[str, str]:
    """``Enqueued 2 of 3 experiments in gpu. Refused: b (cannot enqueue ...)``, and the
    toast's kind: ok when all succeeded, warn when some, error when none. ``argument`` is
    the queue of an enqueue, the tag of a tag or untag."""
    done = len(outcome.done)
    where = ""
    if action == "enqueue" and done:
        where = f" in {argument}"
    elif action == "tag":
        where = f" with {argument}"
    elif action == "untag":
        where = f" (tag {argument})"
    text = f"{DONE[action]} {done} of {plural(asked, 'experiment')}{where}."
    if outcome.refused:
        named = "; ".join(f"{name} ({why})" for name, why in outcome.refused[:NAMED_REFUSALS])
        more = outcome.refused[NAMED_REFUSALS:]
        text += f" Refused: {named}" + (f"; and {len(more)} more." if more else ".")
    said, failed = files_said(cleanup, wanted)
    text += said
    if not outcome.refused and not failed:
        return text, "ok"
    return text, "warn" if done else "error"
