"""The Run form (``/projects/{id}/run?commit=SHA``): run an experiment from a commit of the
project's repository with other parameters, other data files or another script.

Opened from the experiments table grouped by commit (a commit's **Run**). In order:
**Parameters** (each parameter file at the commit as a tree of typed values; keys no
pipeline stage lists are hidden until "Show all input parameters (including hidden)"),
**Input data files** (the files the pipeline depends on, any file of the repository with
the toggle; each replaced by an upload or another experiment's artifact), the **Script** tab
(and the SkyPilot task a cloud launcher runs) and the **Cloud** tab (the instance: the
task's resources, ``server.web.git_run_cloud``),
**Commit details** (message, description, the base branch or a new branch), and where it
runs (an agent's queue, or the repository's CI) with what it asks of the machine (GPUs, CPUs,
memory, time limit: the task's resources with the Cloud tab's). "Run experiment" queues
the task; "Save as draft" leaves it a draft. Both post to the same logic as the API
(``server.git_run_form``). Uploads go to the API's upload route first (git_run.js), which
leaves the upload's id in the form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tunelab.domain.path_names import segment
from tunelab.errors import InvalidInput
from tunelab.gitops.refs import MAX_REF
from tunelab.gitops.run_inputs import ParamsFile
from tunelab.sdk.parameters import value_text
from tunelab.server.api.deps import Who
from tunelab.server.git_run_form import (
    DataChoice,
    RunForm,
    RunRequest,
    load_form,
    submit_run,
)
from tunelab.server.web.action_form import Form, FormFields
from tunelab.server.web.git_run_cloud import cloud_task_text, posted_resources
from tunelab.server.web.templating import PAGE_HEADER, is_htmx, render

router = APIRouter(include_in_schema=False)

MAX_DATA_ROWS = 2_000  # files listed under "Show all" (a big tree is cut, and says so)


@router.get("/projects/{project_id}/run", response_class=HTMLResponse)
async def run_page(
    project_id: str,
    request: Request,
    who: Who,
    commit: Annotated[str, Query(min_length=4, max_length=MAX_REF)],
    branch: Annotated[str, Query(max_length=MAX_REF)] = "",
) -> Response:
    form = await load_form(request, who, project_id, commit, branch)
    return render(request, "git_run/page.html", _context(form))


@router.post("/projects/{project_id}/run", response_model=None)
async def run_posted(project_id: str, request: Request, who: Who, form: Form) -> Response:
    commit, base = form.get("commit"), form.get("base_branch")
    shown = await load_form(request, who, project_id, commit, base, to_run=True)
    task = await submit_run(request, who, project_id, _request(shown, form), shown)
    pairs = {"group": "commit", "branch": shown.base_branch}
    target = f"/projects/{segment(project_id)}?{urlencode(pairs)}"
    if is_htmx(request):
        headers = {"HX-Redirect": target, PAGE_HEADER: "1", "X-Tunelab-Task": task["id"]}
        return Response(status_code=200, headers=headers)
    return RedirectResponse(target, status_code=303)


def _request(shown: RunForm, form: FormFields) -> RunRequest:
    """The posted fields as a RunRequest: only the parameters whose text changed are edits
    (an untouched list or dict is not re-read from its text)."""
    params: dict[str, dict[str, str]] = {}
    for index, found in enumerate(shown.inputs.params):
        for key, value in found.values.items():
            posted = form.optional(f"param|{index}|{key}")
            if posted is not None and posted != value_text(value.value):
                params.setdefault(found.path, {})[key] = posted
    choices = []
    for path in _offered(shown):
        upload = form.get(f"upload|{path}")
        artifact = form.get(f"artifact|{path}")
        if upload:
            choices.append(DataChoice(path, upload=upload))
        elif artifact:
            task_id, _, name = artifact.partition(":")
            if not task_id or not name:
                raise InvalidInput(f"{path!r}: choose an artifact from the list")
            choices.append(DataChoice(path, artifact_task=task_id, artifact_name=name))
    where = form.get("where", "queue:default")
    new_branch = form.get("target") == "new"
    return RunRequest(
        commit=shown.commit.sha,
        params=params,
        data_files=choices,
        script=form.get("script").replace("\r\n", "\n"),
        commit_message=form.get("commit_message"),
        commit_description=form.get("commit_description").replace("\r\n", "\n"),
        branch=form.get("new_branch").strip() if new_branch else "",
        base_branch=shown.base_branch,
        runs_on="ci" if where == "ci" else "queue",
        queue=where.removeprefix("queue:") if where.startswith("queue:") else "default",
        draft=form.get("action") == "draft",
        resources=posted_resources(form),
    )


def _offered(form: RunForm) -> list[str]:
    return list(dict.fromkeys([*form.inputs.data_files, *form.inputs.tree]))


def _context(form: RunForm) -> dict[str, Any]:
    data = set(form.inputs.data_files)
    files = [{"path": p, "hidden": p not in data} for p in _offered(form)[:MAX_DATA_ROWS]]
    return {
        "form": form,
        "project": form.project,
        "base": f"/projects/{segment(form.project['id'])}",
        "params_files": [
            {"index": i, "path": p.path, "problem": p.problem, "rows": _rows(p.tree, p, i)}
            for i, p in enumerate(form.inputs.params)
        ],
        "files": files,
        "files_cut": form.inputs.tree_truncated or len(_offered(form)) > MAX_DATA_ROWS,
        "cloud_task": cloud_task_text({}),
        "any_hidden": any(f["hidden"] for f in files)
        or any(not p.shown(k) for p in form.inputs.params for k in p.values),
    }


def _rows(
    tree: Mapping[str, Any], found: ParamsFile, index: int, prefix: str = "", depth: int = 0
) -> list[dict[str, Any]]:
    """The tree as rows in file order: a group row per nested mapping, then its keys one
    level deeper; a group is hidden when every key under it is."""
    rows: list[dict[str, Any]] = []
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping) and value:
            inner = _rows(value, found, index, f"{key}.", depth + 1)
            hidden = all(r["hidden"] for r in inner)
            rows.append(
                {"group": True, "label": name, "key": key, "depth": depth, "hidden": hidden}
            )
            rows.extend(inner)
            continue
        param = found.values.get(key)
        rows.append(
            {
                "group": False,
                "label": name,
                "key": key,
                "depth": depth,
                "field": f"param|{index}|{key}",
                "text": value_text(param.value if param else value),
                "type": param.type if param else "str",
                "hidden": not found.shown(key),
            }
        )
    return rows
