"""The experiment page's git actions: **Retry** for results that were not pushed, and
**Create branch** (with an optional pull request) for a completed experiment that recorded a
repository. Both call what the API calls (``server.git_results``); the answer is an
action's (``action_form.changed``): a toast, and the page reads the experiment again."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from tunelab.server.api.deps import Who
from tunelab.server.api.git_results import service
from tunelab.server.web.action_form import Form, changed

router = APIRouter(include_in_schema=False)


@router.post("/experiments/{task_id}/git-results/push")
async def retry_push(task_id: str, request: Request, who: Who) -> Response:
    results = await run_in_threadpool(service(request).push, who, task_id)
    return _answer(request, task_id, results)


@router.post("/experiments/{task_id}/git-results/branch")
async def create_branch(task_id: str, request: Request, who: Who, form: Form) -> Response:
    branch = form.get("branch").strip()
    made = await run_in_threadpool(
        service(request).create_branch,
        who,
        task_id,
        branch,
        form.checked("pull_request"),
        form.get("title")[:1024],
    )
    return _answer(request, task_id, made)


def _answer(request: Request, task_id: str, results: dict[str, str]) -> Response:
    back = f"/experiments/{task_id}/info"
    if results["state"] != "pushed":
        message = f"results not pushed: {results['error']}"
        return changed(request, [task_id], message, kind="error", back_to=back)
    message = f"Pushed {results['commit'][:8]} to {results['branch']}"
    if results.get("pull_request_url"):
        message += " and opened a pull request"
    return changed(request, [task_id], message, back_to=back)
