"""The requests of the access matrix (``tests.server.test_access_matrix``): each route's
path and query filled with team-a's things, and a body or form each write would succeed
with if nobody checked who sends it, sent as an account would send it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from tests.server import access_world as aw
from tests.server.access_world import World

BULK = "/experiments/bulk"


# --- filling in routes ----------------------------------------------------------------------


class UnknownParameter(Exception):
    pass


# {name} by the path segment before it.
NAME_BY_SEGMENT = {
    "queues": aw.QUEUE_A,
    "artifacts": aw.A_ARTIFACT,
    "configuration-objects": aw.CONFIG_NAME,
    "{kind}": aw.A_ARTIFACT,  # a failed upload: /upload_failures/{kind}/{name}
}


def path_value(world: World, actor: str, route: aw.Route, param: str) -> str:
    """What fills ``param``: always one of team-a's things (or an account to act on)."""
    segments = route.template.split("/")
    before = segments[segments.index("{" + param + "}") - 1]
    if param == "task_id":
        # In a queue's entries: the task waiting in it.
        return world.queued_task if before == "entries" else world.task
    if param == "name" and before in NAME_BY_SEGMENT:
        return NAME_BY_SEGMENT[before]
    if param == "path" and route.path.startswith(MLFLOW_ARTIFACTS):
        return aw.mlflow_file_path(world.project, world.task)
    if param == "user_name":
        # Taking a role away: the owner's. Granting one: to oneself (the escalation).
        removing = route.method == "DELETE" or route.path.endswith("/remove")
        return "owner-a" if removing or actor not in aw.ACCOUNTS else actor
    simple = {
        "model_id": world.model,
        "project_id": world.project,
        "key": world.file_key,
        "upload_id": world.upload_id,
        "number": "1",
        "worker_id": aw.WORKER,
        "user_id": world.user_ids["owner-a"],
        "token_id": world.spare_token,
        "section": aw.HP_SECTION,
        "part": "source",
        "view_id": world.view,
        "kind": "artifact",
        # team-a's linked repository (access_world._link_repository)
        "commit": "main",
        "path": aw.REPO_FILE,
        "tag_key": "note",  # a logged model's tag (MLflow)
    }
    if param in simple:
        return simple[param]
    raise UnknownParameter(
        f"{route.label}: the access matrix does not know what to put in {{{param}}} "
        "(add it to path_value in tests/server/test_access_matrix.py)"
    )


def fill_path(world: World, actor: str, route: aw.Route) -> str:
    def value(match: re.Match[str]) -> str:
        return quote(path_value(world, actor, route, match.group(1)), safe="/")

    return aw.PARAM.sub(value, route.path)


def query_values(world: World) -> dict[str, str]:
    """Declared query parameters worth filling: each names team-a or searches its markers."""
    return {
        "project": aw.PROJECT_A,
        "parent": aw.PROJECT_A,
        "task": world.task,
        "task_id": world.task,
        "user": "owner-a",
        "search": "SECRET",
        "q": "SECRET",
        "ids": f"{world.task},{world.queued_task}",
        "project_id": world.project,
        "scope": "all",
        "title": aw.A_PLOT,
        "series": aw.PLOT_SERIES,
        "archived": "all",
        "commit": "main",  # a commit of team-a's linked repository (the Run form)
        # MLflow's tracking API (server.mlflow): team-a's task as a run, its project as an
        # experiment.
        "run_id": world.task,
        "experiment_id": world.project,
        "experiment_name": aw.PROJECT_A,
        "metric_key": "loss/val",
        # MLflow's artifacts and model registry: team-a's run folder, registered model.
        "path": f"{world.project}/{world.task}/artifacts",
        "name": aw.A_REGISTERED,
        "version": "1",
        "alias": aw.A_ALIAS,
    }


def fill_query(world: World, route: aw.Route, *, bare: bool = False) -> dict[str, str]:
    known = query_values(world)
    query = {name: known[name] for name, req in route.query if name in known and (req or not bare)}
    missing = [name for name, required in route.query if required and name not in known]
    if missing:
        raise UnknownParameter(f"{route.label}: no value for required query {missing}")
    if route.path == BULK and not route.writes and not bare:
        # The bulk modal reads its action and ids from the query (undeclared).
        query.update({"action": "archive", "ids": ",".join(world.team_a_tasks)})
    return query


def json_bodies(world: World, actor: str) -> dict[tuple[str, str], Any]:
    """A body each write would succeed with if nobody checked who sends it.

    Valid bodies on purpose. The gate runs before the body is validated for everything the
    path names, but a few routes check the account in their own code, after FastAPI has
    validated the body (accounts: admin only; members: owner only; creating a task, project
    or model: a role on the project named in the body). There a malformed body is a 400
    before the 403, which is harmless (nothing ran, the answer says only what the public
    OpenAPI document says), so it is accepted; the matrix tests the access decision itself.
    An invalid JSON text is a 400 even before the 401 (FastAPI reads it first): also accepted.
    """
    hp = {aw.HP_SECTION: {"intruder": {"value": "1"}}}
    return {
        ("POST", "/api/v1/projects"): {"name": f"{aw.PROJECT_A}/intruder"},
        ("PATCH", "/api/v1/projects/{project_id}"): {"description": "changed by an intruder"},
        ("POST", "/api/v1/tasks"): {"name": "intruder", "project": aw.PROJECT_A},
        # DVCLive's start event for team-a's linked repository: a task in team-a's project.
        ("POST", "/api/live"): {
            "type": "start",
            "repo_url": str(world.server.data_dir / "team-a-repo"),
            "baseline_sha": "0" * 40,
            "name": "intruder",
        },
        ("POST", "/api/v1/tasks/batch"): {
            "tasks": [
                {"name": "intruder", "project": f"{actor}-space"},
                {"name": "intruder", "project": aw.PROJECT_A},
            ]
        },
        ("PATCH", "/api/v1/tasks/{task_id}"): {"comment": "changed by an intruder"},
        ("PUT", "/api/v1/tasks/{task_id}/hyperparameters"): hp,
        ("PATCH", "/api/v1/tasks/{task_id}/hyperparameters"): hp,
        ("PUT", "/api/v1/tasks/{task_id}/configuration"): {"c": {"text": "x"}},
        ("PATCH", "/api/v1/tasks/{task_id}/configuration"): {"c": {"text": "x"}},
        ("PUT", "/api/v1/tasks/{task_id}/user_properties"): {"p": {"value": "x"}},
        ("PATCH", "/api/v1/tasks/{task_id}/user_properties"): {"p": {"value": "x"}},
        ("PUT", "/api/v1/tasks/{task_id}/input_model"): {"model_id": world.model},
        ("POST", "/api/v1/tasks/{task_id}/clone"): {"project": f"{actor}-space"},
        ("POST", "/api/v1/tasks/{task_id}/reset"): {"delete_artifacts": True},
        ("POST", "/api/v1/tasks/{task_id}/enqueue"): {"queue": aw.QUEUE_A},
        ("POST", "/api/v1/tasks/{task_id}/stop"): {"reason": "intruder"},
        ("POST", "/api/v1/tasks/{task_id}/start"): {"worker": aw.WORKER},
        ("POST", "/api/v1/tasks/{task_id}/scalars"): aw.scalar_batch("intruder"),
        ("POST", "/api/v1/tasks/{task_id}/console"): {
            "lines": [{"stream": "stdout", "text": "intruder", "ts": 2.0}]
        },
        ("POST", "/api/v1/tasks/{task_id}/plots"): {
            "plots": [
                {
                    "title": "i",
                    "series": "s",
                    "kind": "table",
                    "data": {"columns": ["c"], "rows": [["x"]]},
                }
            ]
        },
        ("POST", "/api/v1/tasks/{task_id}/debug_samples"): {
            "title": "i",
            "series": "s",
            "iteration": 7,
            "kind": "image",
            "mime": "image/png",
            "uri": "tunelab://x",
        },
        ("POST", "/api/v1/queues"): {"name": "intruder-queue"},
        ("POST", "/api/v1/queues/{name}/entries/{task_id}/move"): {"to": "bottom"},
        ("POST", "/api/v1/workers"): {"id": "intruder", "queues": [aw.QUEUE_A]},
        ("POST", "/api/v1/workers/{worker_id}/heartbeat"): {"task_id": None},
        ("POST", "/api/v1/workers/{worker_id}/next"): {"timeout": 0},
        ("POST", "/api/v1/uploads/{upload_id}/complete"): {
            "parts": 1,
            "size": len(aw.UPLOAD_PART),
            "sha256": hashlib.sha256(aw.UPLOAD_PART).hexdigest(),
        },
        ("PUT", "/api/v1/tasks/{task_id}/artifacts/{name}"): {
            "type": "file",
            "format": "bin",
            "uri": "tunelab://x",
            "size": 1,
            "sha256": "",
        },
        ("POST", "/api/v1/models"): {"name": "intruder", "task_id": world.task},
        ("PATCH", "/api/v1/models/{model_id}"): {"comment": "changed by an intruder"},
        ("PUT", "/api/v1/models/{model_id}/weights"): {"uri": "file:///intruder/model.pt"},
        ("POST", "/api/v1/models/{model_id}/reports"): {
            "reports": [{"kind": "single", "series": "intruder", "value": 1.0}]
        },
        ("POST", "/api/v1/users"): {"name": "intruder", "kind": "admin", "password": "x"},
        ("PATCH", "/api/v1/users/{user_id}"): {"disabled": True},
        ("POST", "/api/v1/tokens"): {"name": "stolen", "user": "owner-a"},
        ("PUT", "/api/v1/projects/{project_id}/members/{user_name}"): {"role": "owner"},
        ("PUT", "/api/v1/projects/{project_id}/metric-directions"): {
            "directions": [{"metric": "loss", "variant": "val", "direction": "higher"}]
        },
        ("POST", "/api/v1/projects/{project_id}/views"): {"name": "intruder", "layout": {}},
        ("PUT", "/api/v1/projects/{project_id}/repository"): {
            "url": "https://git.example.com/intruder.git"
        },
        ("PATCH", "/api/v1/projects/{project_id}/views/{view_id}"): {"name": "intruder"},
        ("POST", "/api/v1/projects/{project_id}/git-runs"): {"commit": "main", "draft": True},
        ("POST", "/api/v1/tasks/{task_id}/git-results"): {"commit": "0" * 40},
        ("POST", "/api/v1/tasks/{task_id}/git-results/branch"): {"branch": "intruder"},
        **_mlflow_bodies(world),
    }


def _mlflow_bodies(world: World) -> dict[tuple[str, str], Any]:
    """MLflow's tracking API (server.mlflow): each names team-a's task as a run, or its
    project as an experiment, in the body."""
    api = "/mlflow/api/2.0/mlflow"
    run = {"run_id": world.task}
    experiment = {"experiment_id": world.project}
    metric = {"key": "intruder", "value": 1.0, "timestamp": 1000, "step": 0}
    return {
        ("POST", f"{api}/experiments/create"): {"name": aw.PROJECT_A},
        ("POST", f"{api}/experiments/search"): {"filter": f"name = '{aw.PROJECT_A}'"},
        ("POST", f"{api}/experiments/update"): {**experiment, "new_name": "intruder"},
        ("POST", f"{api}/experiments/delete"): experiment,
        ("POST", f"{api}/experiments/restore"): experiment,
        ("POST", f"{api}/runs/create"): {**experiment, "run_name": "intruder"},
        ("POST", f"{api}/runs/update"): {**run, "status": "KILLED"},
        ("POST", f"{api}/runs/delete"): run,
        ("POST", f"{api}/runs/restore"): run,
        ("POST", f"{api}/runs/set-tag"): {**run, "key": "intruder", "value": "x"},
        ("POST", f"{api}/runs/delete-tag"): {**run, "key": "note"},  # a user property
        ("POST", f"{api}/runs/log-parameter"): {**run, "key": "intruder", "value": "1"},
        ("POST", f"{api}/runs/log-metric"): {**run, **metric},
        ("POST", f"{api}/runs/log-batch"): {**run, "metrics": [metric]},
        ("POST", f"{api}/runs/search"): {"experiment_ids": [world.project]},
        **_mlflow_model_bodies(world),
    }


def _mlflow_model_bodies(world: World) -> dict[tuple[str, str], Any]:
    """MLflow's logged models and model registry: team-a's run, model, registered model."""
    api = "/mlflow/api/2.0/mlflow"
    registered = {"name": aw.A_REGISTERED}
    return {
        ("POST", f"{api}/logged-models"): {
            "experiment_id": world.project,
            "name": "intruder",
            "source_run_id": world.task,
        },
        ("PATCH", f"{api}/logged-models/{{model_id}}"): {"status": "LOGGED_MODEL_READY"},
        ("PATCH", f"{api}/logged-models/{{model_id}}/tags"): {"tags": []},
        ("POST", f"{api}/logged-models/search"): {"experiment_ids": [world.project]},
        ("POST", f"{api}/runs/outputs"): {"run_id": world.task, "models": []},
        ("POST", f"{api}/registered-models/create"): registered,
        ("PATCH", f"{api}/registered-models/update"): {**registered, "description": "x"},
        ("POST", f"{api}/registered-models/rename"): {**registered, "new_name": "intruder"},
        ("DELETE", f"{api}/registered-models/delete"): registered,
        ("POST", f"{api}/registered-models/alias"): {
            **registered,
            "alias": "intruder",
            "version": "1",
        },
        ("DELETE", f"{api}/registered-models/alias"): {**registered, "alias": aw.A_ALIAS},
        ("POST", f"{api}/model-versions/create"): {
            **registered,
            "source": f"models:/{world.model}",
        },
        ("POST", f"{api}/model-versions/transition-stage"): {
            **registered,
            "version": "1",
            "stage": "Production",
        },
    }


MLFLOW_ARTIFACTS = "/mlflow/api/2.0/mlflow-artifacts/"

RAW_BODIES: dict[tuple[str, str], tuple[bytes, str]] = {
    ("PUT", "/mlflow/api/2.0/mlflow-artifacts/artifacts/{path}"): (b"intruder", "text/plain"),
    ("PUT", "/api/v1/files/{key}"): (b"intruder", "application/octet-stream"),
    ("PUT", "/api/v1/uploads/{upload_id}/parts/{number}"): (
        b"intruder",
        "application/octet-stream",
    ),
    ("PUT", "/api/v1/projects/{project_id}/git-runs/uploads"): (
        b"intruder",
        "application/octet-stream",
    ),
    ("POST", "/api/v1/tasks/{task_id}/scalars/frame"): (
        b"TLS1",
        "application/vnd.tunelab.scalar-frame",
    ),
}


def form_fields(world: World, actor: str, route: aw.Route) -> dict[str, str]:
    """A page form each write would succeed with if nobody checked who sends it."""
    forms = {
        BULK: {"action": "archive", "ids": ",".join(world.team_a_tasks)},
        "/experiments/{task_id}/clone": {"project": f"{actor}-space"},
        "/experiments/{task_id}/enqueue": {"queue": aw.QUEUE_A},
        "/experiments/{task_id}/reset": {"delete_artifacts": "on"},
        "/experiments/{task_id}/delete": {"delete_artifacts": "on"},
        "/experiments/{task_id}/input-model": {"model_id": world.model},
        "/projects/{project_id}/table-views": {"name": "intruder", "sort": "name"},
        "/models/bulk": {"action": "publish", "ids": world.model},
        "/models/{model_id}/network": {"config_text": ""},
        "/models/{model_id}/labels": {},
        "/queues/{name}/entries/{task_id}/move": {"to": "bottom"},
        "/admin/users": {"name": "intruder", "kind": "admin", "password": aw.PASSWORD},
        "/account/tokens": {"name": "matrix-page"},
        "/projects/{project_id}/members": {"user": actor, "role": "owner"},
        "/projects/{project_id}/repository": {"url": "https://git.example.com/intruder.git"},
        "/projects/{project_id}/repository/unlink": {},
        "/projects/{project_id}/ci": {"runner": "self-hosted", "labels": "intruder"},
        "/projects/{project_id}/ci/render": {"runner": "self-hosted", "labels": "intruder"},
        "/projects/{project_id}/run": {"commit": "main", "action": "draft"},
        "/experiments/{task_id}/git-results/branch": {"branch": "intruder"},
        "/projects/{project_id}/metric-directions": {
            "metric": "loss",
            "variant": "val",
            "direction": "higher",
        },
    }
    return forms.get(route.template, {"name": "intruder", "text": "x", "value": "x"})


def minimal_body(world: World, route: aw.Route) -> Any:
    """For a route ``json_bodies`` does not list yet: the smallest body its OpenAPI schema
    allows (required fields only)."""
    operation = world.openapi["paths"].get(route.template, {}).get(route.method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return {}
    return _minimal(schema, world.openapi.get("components", {}).get("schemas", {}))


def _minimal(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _minimal(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [s for s in schema.get(key, []) if s.get("type") != "null"]
        if options:
            return _minimal(options[0], defs)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _minimal(props.get(name, {}), defs) for name in schema.get("required", [])}
    if kind == "array":
        return [_minimal(schema.get("items", {}), defs)] * schema.get("minItems", 0)
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


# --- sending --------------------------------------------------------------------------------


@dataclass
class Clients:
    api: dict[str, httpx.Client]  # by account: its API key; "anonymous": none
    pages: dict[str, httpx.Client]  # by account: signed in to the web app


@dataclass
class Sent:
    response: httpx.Response
    said: str  # everything the request itself carried: a marker in it is not a leak


def send(
    world: World, clients: Clients, actor: str, route: aw.Route, *, bare: bool = False
) -> Sent:
    """``route`` as ``actor`` ("anonymous": no credentials) would send it, with what would
    make it succeed if nobody checked who sends it; ``bare``: only required query values."""
    if "upload_id" in route.params:
        # Each its own upload, one part in: a refusal is not an upload aborted earlier.
        aw.fresh_upload(world, clients.api["owner-a"])
    url = fill_path(world, actor, route)
    params = fill_query(world, route, bare=bare)
    anonymous = actor == "anonymous"
    client = clients.api[actor] if route.api or anonymous else clients.pages[actor]
    kwargs: dict[str, Any] = {"params": params, "headers": {}}
    said = url + json.dumps(params)
    if route.writes and route.api:
        key = (route.method, route.template)
        if key in RAW_BODIES:
            content, kind = RAW_BODIES[key]
            kwargs["content"] = content
            kwargs["headers"]["Content-Type"] = kind
        elif route.json_body:
            body = json_bodies(world, actor).get(key)
            kwargs["json"] = minimal_body(world, route) if body is None else body
            said += json.dumps(kwargs["json"])
    elif route.writes:
        form = form_fields(world, actor, route)
        if not anonymous:
            # As the web app's own script sends it: htmx, with the CSRF token.
            token = aw.csrf_of(client)
            form = {**form, "csrf_token": token}
            kwargs["headers"].update({"X-CSRF-Token": token, "HX-Request": "true"})
        kwargs["data"] = form
        said += json.dumps(form)
    response = client.request(route.method, url, **kwargs)
    return Sent(response, said)
