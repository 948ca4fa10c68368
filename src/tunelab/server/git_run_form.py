"""The Run form's data at a commit, and the run a submitted form makes.

``load_form`` reads what the form shows from the server's mirror and the store: the
parameter files and their values, the data files, the default script, a new branch name and
the queues. ``plan_run`` checks a submission against it (every edited key must exist and
take a value of its type, as on the Configuration tab; every replaced file must be a file
the repository offers; the branch must be a valid name) and builds the task's fields.
``submit_run`` writes the task (its hyperparameter sections named after the parameter files,
every key typed, the edits in), moves uploaded data files under it, and enqueues it, leaves
it a draft, or starts the repository's CI.

The API (``server.api.git_runs``) and the page (``server.web.git_run_page``) both call it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from tunelab.domain.access import Principal
from tunelab.domain.git_run import DataFile, GitRun, check_repository_path
from tunelab.domain.resources import Resources
from tunelab.errors import InvalidInput, NotFound, TunelabError
from tunelab.gitops import history
from tunelab.gitops.mirror import GitMirrors
from tunelab.gitops.refs import check_branch, check_commit
from tunelab.gitops.remote import parse_remote
from tunelab.gitops.run_inputs import DVC_SCRIPT, ParamsFile, RunInputs, read_run_inputs
from tunelab.params_files.overrides import checked_changes
from tunelab.sdk.parameters import param_body
from tunelab.server import access
from tunelab.server.db_gate import in_transaction, run_db
from tunelab.server.file_store import FileStore
from tunelab.server.git_run_uploads import move_upload, staging_key
from tunelab.server.uri_access import UriPolicy, require_uri
from tunelab.storage import StorageContext, open_file
from tunelab.store import (
    artifacts,
    git_runs,
    lifecycle,
    projects,
    queues,
    repositories,
    task_fields,
    tasks,
)

BRANCH_PREFIX = "tunelab/"
_HASH_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class DataChoice:
    """A replacement for one repository file: a staged upload, or another task's artifact."""

    path: str
    upload: str = ""
    artifact_task: str = ""
    artifact_name: str = ""


@dataclass(frozen=True)
class RunRequest:
    """A submitted Run form; "" or None fields take the form's defaults."""

    commit: str
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    data_files: Sequence[DataChoice] = ()
    script: str | None = None
    commit_message: str = ""
    commit_description: str = ""
    branch: str = ""  # where results go: "" or the base branch, else a new branch
    base_branch: str = ""
    runs_on: str = "queue"
    queue: str = queues.DEFAULT_QUEUE
    draft: bool = False
    name: str = ""
    # What the run asks of the machine (GPUs, CPUs, memory, time limit; the Cloud tab's
    # instance for a cloud launcher): the task's resources.
    resources: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RunForm:
    project: dict[str, Any]
    link: dict[str, Any]
    base_branch: str
    commit: history.Commit
    inputs: RunInputs
    script: str
    suggested_branch: str
    branches: list[str]
    queues: list[str]
    artifacts: list[dict[str, Any]]

    @property
    def short_sha(self) -> str:
        return self.commit.sha[:7]

    def params_file(self, path: str) -> ParamsFile:
        for found in self.inputs.params:
            if found.path == path:
                return found
        known = ", ".join(p.path for p in self.inputs.params) or "none"
        raise InvalidInput(
            f"{path!r} is not a parameter file of commit {self.short_sha} (they are: {known})",
            {"file": path},
        )


async def load_form(
    request: Request,
    who: Principal,
    project_id: str,
    commit: str,
    base_branch: str = "",
    *,
    to_run: bool = False,
) -> RunForm:
    """What the form shows at ``commit`` (a sha, branch or tag) on ``base_branch`` (the
    project's default branch when ""). Anyone who reads the project sees it; ``to_run``:
    the caller must be allowed to create tasks there (an editor, not a task's key or a
    worker account)."""
    check_commit(commit)
    if base_branch:
        check_branch(base_branch)

    def read_link() -> tuple[dict[str, Any], dict[str, Any]]:
        with request.app.state.engine.begin() as conn:
            project = projects.get_project(conn, project_id)
            if to_run:
                access.require_create_in(conn, who, project["name"])
            else:
                access.require_project(conn, who, project["name"], access.READ)
            return project, repositories.require_repository(conn, project_id)

    project, link = await run_db(request, read_link)
    mirrors: GitMirrors = request.app.state.git_mirrors
    remote = parse_remote(link["url"])

    def read_git() -> tuple[history.Commit, RunInputs, list[str]]:
        git_dir = mirrors.ready(project_id, remote)
        sha = history.resolve(git_dir, commit)
        found = _commit(git_dir, sha)
        branches = [r.name for r in history.refs(git_dir) if r.kind == "branch"]
        return found, read_run_inputs(git_dir, sha, link["params_files"]), branches

    found, inputs, branches = await run_in_threadpool(read_git)
    base = base_branch or link["default_branch"]
    if base not in branches:
        raise InvalidInput(f"the repository has no branch {base!r}", {"branch": base})

    def read_store() -> tuple[str, set[str], list[str], list[dict[str, Any]]]:
        with request.app.state.engine.begin() as conn:
            entry = git_runs.newest_entry_point(conn, project_id, found.sha)
            used = git_runs.branches_of_runs(conn, project_id, found.sha)
            visible = access.visible_projects(conn, who)
            names = [q["name"] for q in queues.list_queues(conn, visible)]
            return entry, used, names, git_runs.project_artifacts(conn, project_id)

    entry, used, queue_names, offered = await run_db(request, read_store)
    return RunForm(
        project=project,
        link=link,
        base_branch=base,
        commit=found,
        inputs=inputs,
        script=default_script(inputs, entry),
        suggested_branch=suggest_branch(found.sha, set(branches) | used),
        branches=branches,
        queues=queue_names or [queues.DEFAULT_QUEUE],
        artifacts=offered,
    )


def _commit(git_dir: Path, sha: str) -> history.Commit:
    # A page of one commit starting at the sha itself (``commits`` takes a branch name or a
    # cursor; the cursor's form is "<tip>.<skip>").
    return history.commits(git_dir, "HEAD", 1, f"{sha}.0").commits[0]


def default_script(inputs: RunInputs, entry_point: str) -> str:
    """``dvc exp run`` for a DVC pipeline, else the newest experiment's entry point again."""
    if inputs.has_dvc_yaml:
        return DVC_SCRIPT
    if entry_point:
        return f"python {entry_point}"
    return ""


def suggest_branch(sha: str, taken: set[str]) -> str:
    """``tunelab/<short sha>-<n>`` with the first ``n`` no branch or earlier run took."""
    n = 1
    while f"{BRANCH_PREFIX}{sha[:7]}-{n}" in taken:
        n += 1
    return f"{BRANCH_PREFIX}{sha[:7]}-{n}"


@dataclass(frozen=True)
class RunPlan:
    """The task a submission makes, checked; the data files still to move in."""

    name: str
    hyperparameters: dict[str, dict[str, dict[str, str]]]
    git_run: GitRun
    uploads: list[DataChoice]
    artifacts: list[DataChoice]
    queue: str
    draft: bool
    resources: Resources


def plan_run(form: RunForm, req: RunRequest) -> RunPlan:
    """Check ``req`` against ``form``; raises InvalidInput naming the first bad key."""
    sections: dict[str, dict[str, dict[str, str]]] = {}
    for file in req.params:
        form.params_file(file)  # an unknown file is refused by name
    for found in form.inputs.params:
        if found.problem:
            if req.params.get(found.path):
                raise InvalidInput(f"{found.path} cannot be edited: {found.problem}")
            continue
        edits = dict(req.params.get(found.path) or {})
        typed = {k: v.value for k, v in found.values.items()}
        for change in checked_changes(found.tree, edits, found.path, allow_new=False):
            typed[".".join(change.path)] = change.value
        sections[found.path] = {key: param_body(value) for key, value in typed.items()}
    offered = set(form.inputs.data_files) | set(form.inputs.tree)
    uploads: list[DataChoice] = []
    chosen: list[DataChoice] = []
    seen: set[str] = set()
    for choice in req.data_files:
        path = check_repository_path(choice.path, "a data file's path")
        if path not in offered:
            raise InvalidInput(
                f"{path!r} is not a file of commit {form.short_sha} the run can replace",
                {"path": path},
            )
        if path in seen:
            raise InvalidInput(f"{path!r} is replaced twice", {"path": path})
        seen.add(path)
        if bool(choice.upload) == bool(choice.artifact_task):
            raise InvalidInput(f"{path!r}: give either an upload or an artifact", {"path": path})
        if choice.upload:
            staging_key(form.project["id"], choice.upload)  # an id of the right form
            uploads.append(choice)
        else:
            chosen.append(choice)
    runs_on = req.runs_on if req.runs_on in ("queue", "ci") else None
    if runs_on is None:
        raise InvalidInput("runs_on is 'queue' (an agent) or 'ci' (the repository's CI)")
    base = form.base_branch
    branch = req.branch.strip() or base
    if branch != base:
        check_branch(branch)
        if branch in form.branches:
            raise InvalidInput(
                f"the repository has a branch {branch!r} already: name a new one, or commit "
                f"to {base}",
                {"branch": branch},
            )
    message = req.commit_message.strip()
    git_run = GitRun(
        params_files=tuple(sections),
        script=form.script if req.script is None else req.script,
        commit_message=message,
        commit_description=req.commit_description,
        base_branch=base,
        branch=branch,
        pull_request=branch != base,
        runs_on=runs_on,
    )
    name = req.name.strip() or message.split("\n", 1)[0].strip() or f"run from {form.short_sha}"
    return RunPlan(
        name=name[: task_fields.MAX_NAME_LENGTH],
        hyperparameters=sections,
        git_run=git_run,
        uploads=uploads,
        artifacts=chosen,
        queue=queues.validate_name(req.queue or queues.DEFAULT_QUEUE),
        draft=req.draft or runs_on == "ci",
        resources=Resources.from_dict(req.resources),
    )


async def submit_run(
    request: Request,
    who: Principal,
    project_id: str,
    req: RunRequest,
    form: RunForm | None = None,
) -> dict[str, Any]:
    """Make the run ``req`` asks for; answers the new ``Task``. ``form``: the form already
    read for ``req``'s commit, if the caller has it."""
    if form is None:
        form = await load_form(request, who, project_id, req.commit, req.base_branch, to_run=True)
    plan = plan_run(form, req)
    chosen = await _artifact_files(request, who, plan.artifacts)
    store: FileStore = request.app.state.file_store
    moved: list[str] = []

    def write(conn: sa.Connection) -> dict[str, Any]:
        task = tasks.create_task(
            conn,
            name=plan.name,
            project=form.project["name"],
            type="training",
            user=who.name if not who.open_access and who.name else "",
            execution={
                "repository": form.link["url"],
                "commit": form.commit.sha,
                "branch": form.base_branch,
            },
            hyperparameters=plan.hyperparameters,
            git_run=plan.git_run,
            resources=plan.resources,
        )
        files = list(chosen)
        for choice in plan.uploads:
            key = _task_key(form.project["name"], task["name"], task["id"], choice.path)
            stored = move_upload(store, project_id, choice.upload, key)
            moved.append(key)
            files.append(DataFile(choice.path, f"tunelab://{key}", stored.sha256, stored.size))
        if files:
            order = {c.path: i for i, c in enumerate((*plan.uploads, *plan.artifacts))}
            files.sort(key=lambda f: order.get(f.path, 0))
            whole = GitRun.from_dict({**plan.git_run.to_dict(), "data_files": []})
            record = {**whole.to_dict(), "data_files": [f.to_dict() for f in files]}
            task = tasks.update_task(conn, task["id"], {"git_run": record})
        if not plan.draft:
            task = lifecycle.enqueue(conn, task["id"], plan.queue, who.user_id)
        return task

    try:
        task = await in_transaction(request, write)
    except BaseException:
        for key in moved:  # the task was never written: nothing names these copies
            _forget(store, key)
        raise
    for choice in plan.uploads:
        _forget(store, staging_key(project_id, choice.upload))
    if plan.draft is False:
        request.app.state.work_signal.notify()
    if plan.git_run.runs_on == "ci":
        await run_in_threadpool(_dispatch_ci, request, form, task["id"])
    return task


def _task_key(project: str, name: str, task_id: str, path: str) -> str:
    """Where a data file of the task is kept: in the task's own folder, as the SDK keeps
    its artifacts, so its key and its project's members may read it."""
    safe = [_safe(p) for p in project.split("/") if p]
    return "/".join([*safe, f"{_safe(name)}.{task_id}", "git-run", path])


def _safe(part: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in part).strip("._")
    return (cleaned or "_")[:100]


def _forget(store: FileStore, key: str) -> None:
    with contextlib.suppress(NotFound):
        store.delete(key)


async def _artifact_files(
    request: Request, who: Principal, choices: Sequence[DataChoice]
) -> list[DataFile]:
    """Each chosen artifact as a DataFile: its URI, and its sha256 from its record, or
    hashed here when the record has none and the caller may have the server read it."""
    if not choices:
        return []

    def read() -> list[dict[str, Any]]:
        with request.app.state.engine.begin() as conn:
            found = []
            for choice in choices:
                access.require_task(conn, who, choice.artifact_task, access.READ)
                record = artifacts.get_artifact(conn, choice.artifact_task, choice.artifact_name)
                if not record["uri"]:
                    raise InvalidInput(
                        f"artifact {choice.artifact_name!r} has no file to replace "
                        f"{choice.path!r} with",
                        {"path": choice.path},
                    )
                if not record["sha256"]:
                    require_uri(conn, who, record["uri"], access.READ, UriPolicy.of(request.app))
                found.append(record)
            return found

    records = await run_db(request, read)
    files = []
    for choice, record in zip(choices, records, strict=True):
        sha256, size = record["sha256"], int(record["size"] or 0)
        if not sha256:
            sha256, size = await run_in_threadpool(_hash, request, record["uri"], choice.path)
        files.append(
            DataFile(
                path=choice.path,
                uri=record["uri"],
                sha256=sha256,
                size=size,
                source="artifact",
                artifact_task=choice.artifact_task,
                artifact_name=choice.artifact_name,
            )
        )
    return files


def _hash(request: Request, uri: str, path: str) -> tuple[str, int]:
    ctx: StorageContext = request.app.state.storage
    try:
        handle, _ = open_file(uri, ctx)
    except NotFound:
        raise InvalidInput(f"the artifact chosen for {path!r} has no file at {uri}") from None
    digest, size = hashlib.sha256(), 0
    with handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _dispatch_ci(request: Request, form: RunForm, task_id: str) -> None:
    """Start the repository's CI on the base branch: the workflow the CI wizard wrote runs
    ``tunelab agent execute --id <task id>``. A refusal leaves the task a draft to retry
    and says its id."""
    from tunelab.server.ci_dispatch import dispatch_ci_run

    try:
        dispatch_ci_run(request.app.state.settings, form.link, task_id, form.base_branch)
    except TunelabError as exc:
        detail = {**exc.detail} if isinstance(exc.detail, Mapping) else {}
        message = f"{exc.message} (the run is saved as draft {task_id})"
        raise type(exc)(message, {**detail, "task_id": task_id}) from None
