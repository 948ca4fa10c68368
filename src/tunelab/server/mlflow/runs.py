"""MLflow's run routes, on tasks: create, update, get, delete and restore (archive), set and
delete tags, and search."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Query

from tunelab.domain.access import Principal
from tunelab.domain.task import TaskStatus
from tunelab.errors import InvalidInput
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.mlflow import mapping, run_reads, run_search, run_writes
from tunelab.server.mlflow.messages import Message
from tunelab.server.mlflow.pages import page_offset, page_token
from tunelab.server.mlflow.search_filter import parse_filter, parse_order_by
from tunelab.store import lifecycle
from tunelab.store import tasks as task_store
from tunelab.store.schema import tasks

router = APIRouter()
JsonBody = Annotated[dict[str, Any], Body()]

MAX_RUNS = 50_000
DEFAULT_RUNS = 1_000


@router.post("/runs/create")
def create_run(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """A running task in the experiment's project, its fields from the run's tags."""
    message = Message(body)
    experiment_id = message.text("experiment_id", default=mapping.DEFAULT_EXPERIMENT_ID)
    if experiment_id == mapping.DEFAULT_EXPERIMENT_ID:
        project = mapping.DEFAULT_PROJECT
    else:
        project = run_reads.readable_project(conn, who, experiment_id)["name"]
    new_root = access.require_create_in(conn, who, project)
    tags = _tags(message)
    run_name = message.text("run_name") or tags.pop(mapping.RUN_NAME, "")
    tags.pop(mapping.RUN_NAME, None)
    user = who.name or tags.pop(mapping.USER, "") or message.text("user_id")
    tags.pop(mapping.USER, None)
    task = task_store.create_task(
        conn,
        name=run_name or f"run-{secrets.token_hex(4)}",
        project=project,
        status=TaskStatus.RUNNING.value,
        user=user,
    )
    if new_root:
        access.grant_new_project(conn, who, new_root)
    start_time = message.int64("start_time")
    if start_time is not None:
        task_store.update_task(conn, task["id"], {"started": start_time / 1000}, by_run=True)
    run_writes.set_tags(conn, task["id"], tags)
    return {"run": run_reads.runs(conn, [task["id"]])[0]}


@router.post("/runs/update")
def update_run(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """A new status (the run's end: ``FINISHED``, ``FAILED``, ``KILLED``; ``RUNNING`` resumes
    an ended run), end time, name."""
    message = Message(body)
    run_id = message.run_id()
    run_reads.require_run(conn, who, run_id, access.WRITE)
    changes: dict[str, Any] = {}
    if message.text("run_name"):
        changes["name"] = message.text("run_name")
    status = mapping.task_status(message.enum("status", mapping.RUN_STATUSES, "SCHEDULED"))
    current = conn.execute(sa.select(tasks.c.status).where(tasks.c.id == run_id)).scalar()
    if status is TaskStatus.RUNNING and TaskStatus(str(current)).is_final:
        # ``start_run(run_id=...)`` on an ended run: it goes on (its end time sent along is
        # the old one, cleared while it runs).
        current = lifecycle.reopen(conn, run_id)["status"]
    elif status is not None and status.value != current:
        changes["status"] = status.value
    end_time = message.int64("end_time")
    if end_time is not None and (status or TaskStatus(str(current))).is_final:
        changes["completed"] = end_time / 1000
    if changes:
        task_store.update_task(conn, run_id, changes, by_run=True)
    return {"run_info": run_reads.runs(conn, [run_id])[0]["info"]}


@router.get("/runs/get")
def get_run(run_id: Annotated[str, Query()], conn: Conn, who: Who) -> dict[str, Any]:
    return {"run": run_reads.run(conn, who, Message({"run_id": run_id}).run_id())}


@router.post("/runs/delete")
def delete_run(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """Archive the run's task (a queued or running one must end first)."""
    run_id = _writable(body, conn, who)
    lifecycle.archive(conn, run_id)
    return {}


@router.post("/runs/restore")
def restore_run(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    run_id = _writable(body, conn, who)
    lifecycle.unarchive(conn, run_id)
    return {}


@router.post("/runs/set-tag")
def set_tag(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    run_id = _writable(body, conn, who)
    key = message.text("key", required=True)
    run_writes.set_tags(conn, run_id, {key: message.text("value")})
    return {}


@router.post("/runs/delete-tag")
def delete_tag(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    run_id = _writable(body, conn, who)
    run_writes.delete_tag(conn, run_id, message.text("key", required=True))
    return {}


@router.post("/runs/search")
def search_runs(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """Runs of the experiments named, filtered and ordered as MLflow's search language says
    (``search_filter``); pages of ``max_results`` (1,000 unless given)."""
    message = Message(body)
    limit = message.int64("max_results") or DEFAULT_RUNS
    if not 0 < limit <= MAX_RUNS:
        raise InvalidInput(f"max_results must be between 1 and {MAX_RUNS}, got {limit}")
    comparisons = parse_filter(message.text("filter"))
    order = [parse_order_by(term) for term in message.texts("order_by")]
    project_ids = []
    for experiment_id in message.texts("experiment_ids"):
        found = run_reads.project_row(conn, experiment_id)
        if found is None:
            if experiment_id == mapping.DEFAULT_EXPERIMENT_ID:
                continue  # not started yet: no runs
            raise InvalidInput(f"No Experiment with id={experiment_id} exists")
        access.require_project(conn, who, found["name"], access.READ)
        project_ids.append(found["id"])
    offset = page_offset(message.text("page_token"))
    view_type = message.enum("run_view_type", mapping.VIEW_TYPES, "ACTIVE_ONLY")
    ids, more = run_search.search(
        conn, project_ids, view_type, comparisons, order, offset, int(limit)
    )
    answer: dict[str, Any] = {"runs": run_reads.runs(conn, ids)}
    if more:
        answer["next_page_token"] = page_token(offset + len(ids))
    return answer


def _writable(body: dict[str, Any], conn: sa.Connection, who: Principal) -> str:
    run_id = Message(body).run_id()
    run_reads.require_run(conn, who, run_id, access.WRITE)
    return run_id


def _tags(message: Message) -> dict[str, str]:
    return {tag.text("key", required=True): tag.text("value") for tag in message.messages("tags")}
