"""The experiments table grouped by commit (``/projects/{id}?group=commit&branch=…``): the
commits of a branch of the project's linked repository, newest first, each with the metrics
its committed metrics files hold, and under each the project's experiments recorded at that
commit (``execution.commit``) with their status, parameters and metrics.

Commits whose message holds ``[skip tunelab]`` are hidden unless ``skipped=1`` shows them.
Pages go by a cursor over the branch's history. The rows re-read themselves every few
seconds while an experiment shown is queued or running, and when ``tasks-changed`` fires.

The page never waits on the network: it reads the server's mirror as it is, and asks
``/projects/{id}/repository/fetch`` (on load, when the mirror is missing or older than the
freshness window) to fetch it; new commits then re-read the rows.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from tunelab.domain.path_names import segment
from tunelab.errors import InvalidInput, NotFound, RepositoryUnavailable
from tunelab.gitops import history
from tunelab.gitops.commit_metrics import commit_metrics
from tunelab.gitops.mirror import GitMirrors
from tunelab.gitops.refs import check_branch
from tunelab.gitops.remote import parse_remote
from tunelab.server.db_gate import run_db
from tunelab.server.web.table_query import TableState
from tunelab.server.web.templating import PAGE_HEADER, is_htmx, render
from tunelab.store import repositories, task_columns
from tunelab.store.commit_tasks import tasks_at_commits
from tunelab.store.task_columns import Column
from tunelab.store.workers import waiting_jobs

router = APIRouter(include_in_schema=False)

SKIP_MARK = "[skip tunelab]"
PAGE_COMMITS = 30
LIVE_STATUSES = frozenset({"queued", "running"})
POLL_SECONDS = 3
DEFAULT_COLUMNS = 4  # of each kind, when the URL names none


def commits_table(request: Request, conn: sa.Connection, project: dict[str, str]) -> Response:
    """The grouped table: the page, or its fragment for htmx."""
    params = request.query_params
    branch = params.get("branch", "")
    show_skipped = params.get("skipped") == "1"
    cursor = params.get("cursor") or None
    state = TableState.from_params(params)
    link = repositories.get_repository(conn, project["id"])
    mirrors: GitMirrors = request.app.state.git_mirrors
    base = f"/projects/{segment(project['id'])}"
    context: dict[str, Any] = {
        "project": project,
        "link": link,
        "base": base,
        "branch": branch,
        "show_skipped": show_skipped,
        "rows": [],
        "columns": [],
        "branches": [],
        "next_url": None,
        "live": False,
        "poll_seconds": POLL_SECONDS,
        "hidden": 0,
    }
    if link is not None:
        branch = check_branch(branch) if branch else link["default_branch"]
        context["branch"] = branch
        fetched = mirrors.last_fetched(project["id"])
        stale = fetched is None or time.time() - fetched > mirrors.fresh_seconds
        context["fetch_url"] = f"{base}/repository/fetch" if stale else None
        if fetched is not None:
            _fill(conn, context, mirrors, project, branch, cursor, show_skipped, state)
    context["url"] = _url(base, branch, show_skipped, state)
    context["skipped_url"] = _url(base, branch, not show_skipped, state)
    headers = {"Vary": "HX-Request"}
    if not is_htmx(request):
        return render(request, "experiments/commits_page.html", context, headers=headers)
    return render(request, "experiments/_by_commit.html", context, headers=headers)


def _fill(
    conn: sa.Connection,
    context: dict[str, Any],
    mirrors: GitMirrors,
    project: dict[str, str],
    branch: str,
    cursor: str | None,
    show_skipped: bool,
    state: TableState,
) -> None:
    git_dir = mirrors.path(project["id"])
    link = context["link"]
    context["branches"] = [r.name for r in history.refs(git_dir) if r.kind == "branch"]
    try:
        page = history.commits(git_dir, branch, PAGE_COMMITS, cursor)
    except (NotFound, RepositoryUnavailable) as exc:  # a branch the mirror lacks: said here
        context["problem"] = exc.message
        return
    shown = [c for c in page.commits if show_skipped or SKIP_MARK not in c.message]
    context["hidden"] = len(page.commits) - len(shown)
    shas = [c.sha for c in shown]
    metrics = commit_metrics(git_dir, shas, link["metrics_files"])
    nested = tasks_at_commits(conn, project["id"], shas)
    columns = state.columns or _default_columns(conn, project["name"])
    task_ids = [t["id"] for sha in shas for t in nested.get(sha, [])]
    context["columns"] = columns
    context["values"] = task_columns.column_values(conn, task_ids, columns)
    running = [t["id"] for sha in shas for t in nested.get(sha, []) if t["status"] == "running"]
    context["waiting"] = waiting_jobs(conn, running)
    context["rows"] = [
        {"commit": c, "metrics": metrics[c.sha], "tasks": nested.get(c.sha, [])} for c in shown
    ]
    context["live"] = any(t["status"] in LIVE_STATUSES for sha in shas for t in nested.get(sha, []))
    if page.next_cursor:
        base = context["base"]
        context["next_url"] = _url(base, branch, show_skipped, state, cursor=page.next_cursor)
    if cursor:
        context["first_url"] = _url(context["base"], branch, show_skipped, state)


def _default_columns(conn: sa.Connection, project_name: str) -> list[Column]:
    offer = task_columns.columns_on_offer(conn, project_name)
    keys = [f"hyperparameters.{s}/{n}" for s, n in offer.hyperparameters[:DEFAULT_COLUMNS]]
    keys += [f"metrics.{m}/{v}.last" for m, v in offer.metrics[:DEFAULT_COLUMNS]]
    found: list[Column] = []
    for key in keys:
        try:
            found.append(task_columns.parse_column(key))
        except InvalidInput:
            continue  # a name the column syntax cannot spell: left to the picker
    return found


def _url(
    base: str, branch: str, show_skipped: bool, state: TableState, cursor: str | None = None
) -> str:
    pairs = [("group", "commit")]
    if branch:
        pairs.append(("branch", branch))
    if show_skipped:
        pairs.append(("skipped", "1"))
    if state.cols:
        pairs.append(("cols", ",".join(state.cols)))
    if cursor:
        pairs.append(("cursor", cursor))
    return f"{base}?{urlencode(pairs)}"


@router.get("/projects/{project_id}/repository/fetch")
async def fetch_repository(project_id: str, request: Request) -> Response:
    """Fetch the project's mirror if stale; ``tasks-changed`` when the branches moved, so the
    commits view re-reads its rows."""
    engine: sa.Engine = request.app.state.engine

    def link() -> dict[str, Any]:
        with engine.begin() as conn:
            return repositories.require_repository(conn, project_id)

    found = await run_db(request, link)
    mirrors: GitMirrors = request.app.state.git_mirrors
    remote = parse_remote(found["url"])

    def fetch() -> bool:
        git_dir = mirrors.path(project_id)
        before = _tips(git_dir) if git_dir.is_dir() else None
        mirrors.ready(project_id, remote)
        return before != _tips(git_dir)

    moved = await run_in_threadpool(fetch)
    headers = {PAGE_HEADER: "1", "Cache-Control": "no-store"}
    if moved:
        headers["HX-Trigger"] = "tasks-changed"
    return Response(status_code=204, headers=headers)


def _tips(git_dir: Any) -> list[tuple[str, str]]:
    return [(r.name, r.sha) for r in history.refs(git_dir)]
