"""Runs from a repository commit (the Run form's API): what the form offers at a commit,
data file uploads, and making the run.

Only accounts that may create tasks in the project (its editors and owners, admins) use
them; a task's key and a worker account may not (``access.require_create_in``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import Field, StringConstraints

from tunelab.gitops.refs import MAX_REF
from tunelab.params_files import ParamValue
from tunelab.sdk.parameters import value_text
from tunelab.server import access
from tunelab.server.api.deps import Settings, Who
from tunelab.server.api.task_models import ResourcesIn, _Body
from tunelab.server.db_gate import run_db
from tunelab.server.file_store import FileStore
from tunelab.server.git_run_form import DataChoice, RunForm, RunRequest, load_form, submit_run
from tunelab.server.git_run_uploads import stage_upload
from tunelab.store import projects

router = APIRouter(tags=["projects"])

RepoPath = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
ParamKey = Annotated[str, StringConstraints(min_length=1, max_length=512)]
# A parameter's new value: typed JSON, or text cast to the type the file holds.
ParamEdit = str | int | float | bool | list[Any] | dict[str, Any] | None


class DataFileChoice(_Body):
    """A repository file replaced for the run: by an upload (``upload``: the id the upload
    route answered) or by another experiment's artifact (``artifact_task`` +
    ``artifact_name``)."""

    path: RepoPath
    upload: Annotated[str, StringConstraints(max_length=32)] = ""
    artifact_task: Annotated[str, StringConstraints(max_length=32)] = ""
    artifact_name: Annotated[str, StringConstraints(max_length=256)] = ""


class GitRunCreate(_Body):
    commit: Annotated[str, StringConstraints(min_length=4, max_length=MAX_REF)]
    params: Annotated[
        dict[RepoPath, Annotated[dict[ParamKey, ParamEdit], Field(max_length=10_000)]],
        Field(max_length=100),
    ] = {}
    data_files: Annotated[list[DataFileChoice], Field(max_length=1_000)] = []
    script: Annotated[str, StringConstraints(max_length=1024 * 1024)] | None = None
    commit_message: Annotated[str, StringConstraints(max_length=64 * 1024)] = ""
    commit_description: Annotated[str, StringConstraints(max_length=64 * 1024)] = ""
    branch: Annotated[str, StringConstraints(max_length=MAX_REF)] = ""
    base_branch: Annotated[str, StringConstraints(max_length=MAX_REF)] = ""
    runs_on: Literal["queue", "ci"] = "queue"
    queue: Annotated[str, StringConstraints(min_length=1, max_length=256)] = "default"
    draft: bool = False
    name: Annotated[str, StringConstraints(max_length=1024)] = ""
    resources: ResourcesIn | None = None

    def as_request(self) -> RunRequest:
        return RunRequest(
            commit=self.commit,
            params=self.params,
            data_files=[
                DataChoice(d.path, d.upload, d.artifact_task, d.artifact_name)
                for d in self.data_files
            ],
            script=self.script,
            commit_message=self.commit_message,
            commit_description=self.commit_description,
            branch=self.branch,
            base_branch=self.base_branch,
            runs_on=self.runs_on,
            queue=self.queue,
            draft=self.draft,
            name=self.name,
            resources=self.resources.model_dump(exclude_unset=True) if self.resources else None,
        )


@router.get("/projects/{project_id}/git-runs/form")
async def run_form(
    project_id: str,
    request: Request,
    who: Who,
    commit: Annotated[str, Query(min_length=4, max_length=MAX_REF)],
    base_branch: Annotated[str, Query(max_length=MAX_REF)] = "",
) -> dict[str, Any]:
    """What the Run form offers at ``commit``: parameter files (each key with its value,
    type and whether a pipeline stage lists it), data files, the repository's files, the
    default script, a new branch name and the queues."""
    return form_json(await load_form(request, who, project_id, commit, base_branch))


@router.post("/projects/{project_id}/git-runs", status_code=status.HTTP_201_CREATED)
async def create_git_run(
    project_id: str, body: GitRunCreate, request: Request, who: Who
) -> dict[str, Any]:
    """Run ``commit`` with the edits given: a training task with ``git_run`` set, queued on
    ``queue`` (or a draft with ``draft``; with ``runs_on`` "ci", started in the repository's
    CI). An unknown parameter or a value of the wrong type is a 400 naming the key."""
    return await submit_run(request, who, project_id, body.as_request())


@router.put("/projects/{project_id}/git-runs/uploads", status_code=status.HTTP_201_CREATED)
async def upload_data_file(
    project_id: str,
    request: Request,
    who: Who,
    settings: Settings,
    name: Annotated[str, Query(max_length=1024)] = "",
) -> dict[str, object]:
    """Store a data file (the raw body) for a run not made yet; answers ``{"upload", "name",
    "size", "sha256"}``. At most the server's body limit (TUNELAB_MAX_BODY_BYTES)."""

    def allowed() -> None:
        with request.app.state.engine.begin() as conn:
            project = projects.get_project(conn, project_id)
            access.require_create_in(conn, who, project["name"])

    await run_db(request, allowed)
    store: FileStore = request.app.state.file_store
    staged = await stage_upload(store, project_id, name, request.stream(), settings.max_body_bytes)
    return staged.as_json()


def form_json(form: RunForm) -> dict[str, Any]:
    def param(key: str, value: ParamValue, shown: bool) -> dict[str, Any]:
        return {"key": key, "value": value.value, "text": value_text(value.value),
                "type": value.type, "hidden": not shown}  # fmt: skip

    return {
        "commit": form.commit.as_dict(),
        "base_branch": form.base_branch,
        "has_dvc_yaml": form.inputs.has_dvc_yaml,
        "params_files": [
            {
                "path": p.path,
                "problem": p.problem,
                "params": [param(k, v, p.shown(k)) for k, v in p.values.items()],
            }
            for p in form.inputs.params
        ],
        "data_files": form.inputs.data_files,
        "files": form.inputs.tree,
        "files_truncated": form.inputs.tree_truncated,
        "script": form.script,
        "suggested_branch": form.suggested_branch,
        "branches": form.branches,
        "queues": form.queues,
        "artifacts": [
            {"task_id": a["task_id"], "task_name": a["task_name"], "name": a["name"]}
            for a in form.artifacts
        ],
    }
