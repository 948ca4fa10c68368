"""A project's git repository: link it (the project's owners), read its branches, commits
and files (anyone who reads the project). Reads fetch the server's mirror first when its
last fetch is older than a short freshness window; git runs with no database connection
held."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from tunelab.domain.access import Role
from tunelab.errors import InvalidInput, NotFound
from tunelab.gitops import history
from tunelab.gitops.commit_metrics import commit_metrics
from tunelab.gitops.mirror import GitMirrors
from tunelab.gitops.refs import MAX_PATH, MAX_REF, check_commit, check_path
from tunelab.gitops.remote import MAX_URL, parse_remote
from tunelab.server import access
from tunelab.server.api.deps import Conn, Settings, Who
from tunelab.server.api.task_models import _Body
from tunelab.server.db_gate import run_db
from tunelab.server.git_repositories import described, require_may_link
from tunelab.store import projects, repositories

router = APIRouter(tags=["projects"])

RepoPath = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATH)]


class RepositoryLink(_Body):
    url: Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL)]
    default_branch: Annotated[str, StringConstraints(min_length=1, max_length=MAX_REF)] = "main"
    params_files: Annotated[list[RepoPath], Field(max_length=repositories.MAX_FILES)] = []
    metrics_files: Annotated[list[RepoPath], Field(max_length=repositories.MAX_FILES)] = []


def mirrors_of(request: Request) -> GitMirrors:
    mirrors: GitMirrors = request.app.state.git_mirrors
    return mirrors


@router.get("/projects/{project_id}/repository")
def get_repository(project_id: str, conn: Conn, request: Request) -> dict[str, Any]:
    """The linked repository's address, default branch and files (404: none linked). No
    credential is ever part of it: they are the server's settings."""
    projects.get_project(conn, project_id)
    return described(repositories.require_repository(conn, project_id), mirrors_of(request))


@router.put("/projects/{project_id}/repository")
def link_repository(
    project_id: str,
    body: RepositoryLink,
    conn: Conn,
    who: Who,
    settings: Settings,
    request: Request,
) -> dict[str, Any]:
    """Link the project to a repository (or change the link): the project's owners; a
    directory on the server's disk, admins only."""
    access.require_project_id(conn, who, project_id, Role.OWNER)
    remote = parse_remote(body.url)
    require_may_link(who, remote, settings)
    before = repositories.get_repository(conn, project_id)
    link = repositories.set_repository(
        conn, project_id, remote.url, body.default_branch, body.params_files, body.metrics_files
    )
    if before is not None and before["url"] != link["url"]:
        mirrors_of(request).remove(project_id)
    return described(link, mirrors_of(request))


@router.delete("/projects/{project_id}/repository", status_code=status.HTTP_204_NO_CONTENT)
def unlink_repository(project_id: str, conn: Conn, who: Who, request: Request) -> Response:
    access.require_project_id(conn, who, project_id, Role.OWNER)
    if not repositories.delete_repository(conn, project_id):
        raise NotFound(f"project {project_id!r} is linked to no repository")
    mirrors_of(request).remove(project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/projects/{project_id}/repository/branches")
async def list_branches(project_id: str, request: Request) -> dict[str, Any]:
    """Branches and tags, each with the commit it points at."""
    link, git_dir = await _mirror(request, project_id)
    found = await run_in_threadpool(history.refs, git_dir)
    return {
        "default_branch": link["default_branch"],
        "items": [{"name": r.name, "kind": r.kind, "sha": r.sha, "date": r.date} for r in found],
    }


@router.get("/projects/{project_id}/repository/commits")
async def list_commits(
    project_id: str,
    request: Request,
    branch: Annotated[str | None, Query(max_length=MAX_REF)] = None,
    limit: Annotated[int, Query(ge=1, le=history.MAX_COMMITS)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """A branch's commits (the default branch's when none is named), newest first, each with
    the metrics its committed metrics files hold; ``next`` is the cursor of the next page."""
    link, git_dir = await _mirror(request, project_id)
    name = branch or link["default_branch"]

    def read() -> dict[str, Any]:
        page = history.commits(git_dir, name, limit, cursor)
        shas = [c.sha for c in page.commits]
        metrics = commit_metrics(git_dir, shas, link["metrics_files"])
        items = [{**c.as_dict(), "metrics": metrics[c.sha]} for c in page.commits]
        return {"branch": name, "items": items, "next": page.next_cursor}

    return await run_in_threadpool(read)


@router.get("/projects/{project_id}/repository/files/{commit}/{path:path}")
async def read_file(project_id: str, commit: str, path: str, request: Request) -> dict[str, Any]:
    """A text file at a commit (a branch, tag or sha), up to 1 MiB."""
    check_commit(commit)
    wanted = check_path(path)
    _, git_dir = await _mirror(request, project_id)

    def read() -> dict[str, Any]:
        sha = history.resolve(git_dir, commit)
        content = history.read_files(git_dir, [(sha, wanted)])[(sha, wanted)]
        if content is None:
            raise NotFound(f"no file {wanted!r} (of at most 1 MiB) at commit {sha[:12]}")
        try:
            text = content.decode()
        except UnicodeDecodeError:
            raise InvalidInput(f"{wanted!r} is not a text file") from None
        return {"commit": sha, "path": wanted, "size": len(content), "content": text}

    return await run_in_threadpool(read)


async def _mirror(request: Request, project_id: str) -> tuple[dict[str, Any], Path]:
    """The link and its mirror, fetched if stale; no connection held while git runs."""
    engine: sa.Engine = request.app.state.engine

    def link() -> dict[str, Any]:
        with engine.begin() as conn:
            projects.get_project(conn, project_id)
            return repositories.require_repository(conn, project_id)

    found = await run_db(request, link)
    mirrors = mirrors_of(request)
    git_dir = await run_in_threadpool(mirrors.ready, project_id, parse_remote(found["url"]))
    return found, git_dir
