"""A git run's results back to git: the agent's report, Retry, and a new branch from any
completed experiment that recorded a repository. The server pushes with its own ``[[git]]``
credentials (``tunelab.server.git_results``); git runs with no connection held."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import StringConstraints
from starlette.concurrency import run_in_threadpool

from tunelab.gitops.credentials import load_git_credentials
from tunelab.gitops.refs import MAX_REF
from tunelab.server.api.deps import Who
from tunelab.server.api.task_models import _Body
from tunelab.server.git_results import GitResultsService
from tunelab.server.uri_access import UriPolicy

router = APIRouter(tags=["tasks"])


class ResultsReport(_Body):
    commit: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]


class NewBranch(_Body):
    branch: Annotated[str, StringConstraints(min_length=1, max_length=MAX_REF)]
    pull_request: bool = False
    title: Annotated[str, StringConstraints(max_length=1024)] = ""


class GitResultsAnswer(_Body):
    state: str
    error: str
    commit: str
    branch: str
    pull_request_url: str
    bundle: str


def service(request: Request) -> GitResultsService:
    app = request.app
    return GitResultsService(
        engine=app.state.engine,
        # The [[git]] credentials as the config file holds them now: a fixed credential
        # needs no restart before Retry.
        mirrors=replace(app.state.git_mirrors, credentials=load_git_credentials()),
        storage=app.state.storage,
        policy=UriPolicy.of(app),
        settings=app.state.settings,
        base_url=str(request.base_url),
    )


@router.post("/tasks/{task_id}/git-results", response_model=GitResultsAnswer)
async def report_git_results(
    task_id: str, body: ResultsReport, who: Who, request: Request
) -> dict[str, Any]:
    """The agent's report of a running git run's results commit (stored as the artifact
    ``git-results``): the server pushes it to the run's branch and opens its pull request.
    A push that fails is recorded (``state`` "failed", ``error``), not answered as an error."""
    return await run_in_threadpool(service(request).report, who, task_id, body.commit)


@router.post("/tasks/{task_id}/git-results/push", response_model=GitResultsAnswer)
async def push_git_results(task_id: str, who: Who, request: Request) -> dict[str, Any]:
    """Retry pushing results that were not pushed (people who may edit the task)."""
    return await run_in_threadpool(service(request).push, who, task_id)


@router.post("/tasks/{task_id}/git-results/branch", response_model=GitResultsAnswer)
async def create_git_branch(
    task_id: str, body: NewBranch, who: Who, request: Request
) -> dict[str, Any]:
    """A new branch (and a pull request when asked) holding a completed experiment's code:
    its results commit, or its commit with its recorded uncommitted changes."""
    return await run_in_threadpool(
        service(request).create_branch, who, task_id, body.branch, body.pull_request, body.title
    )
