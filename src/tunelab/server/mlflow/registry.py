"""MLflow's model registry (``/registered-models/...``, ``/model-versions/...``) on Tunelab
models, by tags:

- a registered model ``N`` is a Tunelab model named ``N`` tagged ``mlflow:registered`` in
  the project ``MLflow registry`` (its description is the model's comment);
- its version ``K`` is a Tunelab model named ``N`` tagged ``mlflow:version=K`` in the
  project of the run the version comes from, pointing at the same files (``uri``) and
  framework as the logged model it registers; its description is the comment;
- a version's stage is its tag ``mlflow:stage=<Stage>`` (``None`` when untagged), an alias
  its tag ``mlflow:alias=<alias>`` (one version holds an alias at a time).

Renaming a registered model renames its versions' models too. Registered-model and version
tags other than those are not kept (answered empty); what has no Tunelab counterpart (a
version from a source that is no logged model of this server) answers MLflow's error
envelope naming the call.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Query

from tunelab.domain.access import Principal
from tunelab.errors import Forbidden, InvalidInput, NotFound
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.mlflow import logged_models, mapping
from tunelab.server.mlflow.envelope import MlflowError, already_exists
from tunelab.server.mlflow.messages import Message
from tunelab.store import models as model_store
from tunelab.store.schema import model_tags, models

router = APIRouter()
JsonBody = Annotated[dict[str, Any], Body()]

REGISTRY_PROJECT = "MLflow registry"
REGISTERED = "mlflow:registered"
VERSION = "mlflow:version="
STAGE = "mlflow:stage="
ALIAS = "mlflow:alias="
STAGES = ("None", "Staging", "Production", "Archived")


def _unsupported(call: str, why: str) -> MlflowError:
    return MlflowError(f"{call}: {why}", {"error_code": "INVALID_PARAMETER_VALUE"})


def _tagged(conn: sa.Connection, name: str, prefix: str) -> list[dict[str, Any]]:
    """The models named ``name`` with a tag starting ``prefix``, oldest first."""
    ids = conn.execute(
        sa.select(models.c.id)
        .join(model_tags, model_tags.c.model_id == models.c.id)
        .where(models.c.name == name, model_tags.c.tag.startswith(prefix, autoescape=True))
        .distinct()
    ).scalars()
    return sorted((model_store.get_model(conn, i) for i in ids), key=lambda m: m["created"])


def _entry(conn: sa.Connection, who: Principal, name: str, need: Any) -> dict[str, Any]:
    """The registry entry of ``name``. Reading it takes a role on its project or on the
    project of one of its versions (those live with their runs); writing, on its own."""
    found = [m for m in _tagged(conn, name, REGISTERED) if REGISTERED in m["tags"]]
    if not found:
        raise NotFound(f"Registered Model with name={name} not found")
    try:
        access.require_model(conn, who, found[0]["id"], need)
    except (NotFound, Forbidden):
        if need != access.READ or not _versions(conn, who, name):
            raise
    return found[0]


def _versions(conn: sa.Connection, who: Principal, name: str) -> list[dict[str, Any]]:
    """The versions of ``name`` that ``who`` may read, by version number."""
    readable = []
    for model in _tagged(conn, name, VERSION):
        try:
            access.require_model(conn, who, model["id"], access.READ)
        except (NotFound, Forbidden):
            continue
        readable.append(model)
    return sorted(readable, key=_number)


def _number(model: dict[str, Any]) -> int:
    return next(int(t[len(VERSION) :]) for t in model["tags"] if t.startswith(VERSION))


def _value(model: dict[str, Any], prefix: str, default: str = "") -> str:
    return next((t[len(prefix) :] for t in model["tags"] if t.startswith(prefix)), default)


def _version(conn: sa.Connection, who: Principal, name: str, version: str) -> dict[str, Any]:
    _entry(conn, who, name, access.READ)
    for model in _versions(conn, who, name):
        if str(_number(model)) == version:
            return model
    raise NotFound(f"Model Version (name={name}, version={version}) not found")


def model_version(model: dict[str, Any]) -> dict[str, Any]:
    source = json.loads(model["config_text"] or "{}") if model["config_text"] else {}
    answer: dict[str, Any] = {
        "name": model["name"],
        "version": str(_number(model)),
        "creation_timestamp": mapping.millis(model["created"]),
        "last_updated_timestamp": mapping.millis(model["last_update"]),
        "current_stage": _value(model, STAGE, "None"),
        "description": model["comment"],
        "source": source.get("source", ""),
        "status": "READY",
        "tags": [],
        "aliases": [t[len(ALIAS) :] for t in model["tags"] if t.startswith(ALIAS)],
    }
    for field in ("run_id", "model_id"):
        if source.get(field):
            answer[field] = source[field]
    return answer


def registered_model(conn: sa.Connection, who: Principal, entry: dict[str, Any]) -> dict[str, Any]:
    versions = _versions(conn, who, entry["name"])
    latest: dict[str, dict[str, Any]] = {}
    for model in versions:
        latest[_value(model, STAGE, "None")] = model
    return {
        "name": entry["name"],
        "creation_timestamp": mapping.millis(entry["created"]),
        "last_updated_timestamp": mapping.millis(entry["last_update"]),
        "description": entry["comment"],
        "latest_versions": [model_version(m) for m in latest.values()],
        "tags": [],
        "aliases": [
            {"alias": t[len(ALIAS) :], "version": str(_number(m))}
            for m in versions
            for t in m["tags"]
            if t.startswith(ALIAS)
        ],
    }


@router.post("/registered-models/create")
def create_registered_model(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    name = message.text("name", required=True)
    if [m for m in _tagged(conn, name, REGISTERED) if REGISTERED in m["tags"]]:
        _entry(conn, who, name, access.WRITE)
        raise already_exists(f"Registered Model (name={name}) already exists.")
    new_root = access.require_create_in(conn, who, REGISTRY_PROJECT)
    entry = model_store.create_model(
        conn,
        name=name,
        project=REGISTRY_PROJECT,
        tags=[REGISTERED],
        comment=message.text("description"),
    )
    if new_root:
        access.grant_new_project(conn, who, new_root)
    return {"registered_model": registered_model(conn, who, entry)}


@router.get("/registered-models/get")
def get_registered_model(name: Annotated[str, Query()], conn: Conn, who: Who) -> dict[str, Any]:
    entry = _entry(conn, who, name, access.READ)
    return {"registered_model": registered_model(conn, who, entry)}


@router.get("/registered-models/search")
def search_registered_models(
    conn: Conn, who: Who, filter: Annotated[str, Query()] = ""
) -> dict[str, Any]:
    """``name = '...'`` or ``name LIKE '...'`` (or no filter)."""
    query = (
        sa.select(models.c.id)
        .join(model_tags, model_tags.c.model_id == models.c.id)
        .where(model_tags.c.tag == REGISTERED)
    )
    for field, op, value in _comparisons("SearchRegisteredModels", filter):
        if field != "name":
            raise _unsupported("SearchRegisteredModels", "only filters on name are supported")
        query = query.where(models.c.name.like(value) if op == "LIKE" else models.c.name == value)
    found = []
    for model_id in conn.execute(query.order_by(models.c.name)).scalars():
        entry = model_store.get_model(conn, model_id)
        try:
            _entry(conn, who, entry["name"], access.READ)
        except (NotFound, Forbidden):
            continue
        found.append(registered_model(conn, who, entry))
    return {"registered_models": found}


@router.patch("/registered-models/update")
def update_registered_model(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    entry = _entry(conn, who, message.text("name", required=True), access.WRITE)
    if "description" in body:
        changes = {"comment": message.text("description")}
        entry = model_store.update_model(conn, entry["id"], changes)
    return {"registered_model": registered_model(conn, who, entry)}


@router.post("/registered-models/rename")
def rename_registered_model(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """The registry entry and its versions' models take the new name (all of them, so each
    version needs a writer's role on its run's project); the logged models keep theirs."""
    message = Message(body)
    name = message.text("name", required=True)
    entry = _entry(conn, who, name, access.WRITE)
    new_name = message.text("new_name", required=True)
    if new_name == name:
        return {"registered_model": registered_model(conn, who, entry)}
    if [m for m in _tagged(conn, new_name, REGISTERED) if REGISTERED in m["tags"]]:
        raise already_exists(f"Registered Model (name={new_name}) already exists.")
    for model in _tagged(conn, name, VERSION):
        access.require_model(conn, who, model["id"], access.WRITE)
        model_store.update_model(conn, model["id"], {"name": new_name})
    entry = model_store.update_model(conn, entry["id"], {"name": new_name})
    return {"registered_model": registered_model(conn, who, entry)}


@router.delete("/registered-models/delete")
def delete_registered_model(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """The registry entry and its versions' records (the logged models stay)."""
    name = Message(body).text("name", required=True)
    entry = _entry(conn, who, name, access.WRITE)
    for model in _versions(conn, who, name):
        access.require_model(conn, who, model["id"], access.WRITE)
        model_store.delete_model(conn, model["id"])
    model_store.delete_model(conn, entry["id"])
    return {}


@router.post("/model-versions/create")
def create_model_version(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    name = message.text("name", required=True)
    _entry(conn, who, name, access.WRITE)
    source = message.text("source", required=True)
    model_id = message.text("model_id") or _model_id_in(source)
    if not model_id:
        raise _unsupported(
            "CreateModelVersion",
            f"source {source!r} is no logged model of this server (use models:/<model id>)",
        )
    logged = logged_models.require_logged_model(conn, who, model_id, access.WRITE)
    number = max((_number(m) for m in _tagged(conn, name, VERSION)), default=0) + 1
    run_id = message.text("run_id") or logged["task_id"] or ""
    model = model_store.create_model(
        conn,
        name=name,
        project=logged["project"]["name"],
        framework=logged["framework"],
        uri=logged["uri"],
        tags=[f"{VERSION}{number}", f"{STAGE}None"],
        comment=message.text("description"),
        config_text=json.dumps({"source": source, "run_id": run_id, "model_id": model_id}),
    )
    return {"model_version": model_version(model)}


def _model_id_in(source: str) -> str:
    """The logged model a version's source names: ``models:/<id>`` or its artifact root."""
    if source.startswith("models:/"):
        return source.removeprefix("models:/").strip("/")
    parts = source.removeprefix("mlflow-artifacts:/").strip("/").split("/")
    if len(parts) >= 3 and parts[1] == "models":
        return parts[2]
    return ""


@router.get("/model-versions/get")
def get_model_version(
    name: Annotated[str, Query()], version: Annotated[str, Query()], conn: Conn, who: Who
) -> dict[str, Any]:
    return {"model_version": model_version(_version(conn, who, name, version))}


@router.get("/model-versions/get-download-uri")
def get_download_uri(
    name: Annotated[str, Query()], version: Annotated[str, Query()], conn: Conn, who: Who
) -> dict[str, Any]:
    """The artifact root of the logged model the version registers."""
    model_id = model_version(_version(conn, who, name, version)).get("model_id", "")
    logged = logged_models.require_logged_model(conn, who, model_id, access.READ)
    return {"artifact_uri": logged_models.logged_model(logged)["info"]["artifact_uri"]}


@router.get("/model-versions/search")
def search_model_versions(
    conn: Conn, who: Who, filter: Annotated[str, Query()] = ""
) -> dict[str, Any]:
    """``name = '...'`` (or no filter: every version the account may read)."""
    terms = _comparisons("SearchModelVersions", filter)
    if len(terms) > 1 or (terms and terms[0][:2] != ("name", "=")):
        raise _unsupported("SearchModelVersions", "only name = '...' is supported")
    if terms:
        names = [terms[0][2]]
    else:
        names = sorted(
            set(
                conn.execute(
                    sa.select(models.c.name)
                    .join(model_tags, model_tags.c.model_id == models.c.id)
                    .where(model_tags.c.tag == REGISTERED)
                ).scalars()
            )
        )
    found = [m for name in names for m in _versions(conn, who, name)]
    return {"model_versions": [model_version(m) for m in found]}


@router.post("/model-versions/transition-stage")
def transition_stage(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    name = message.text("name", required=True)
    model = _version(conn, who, name, message.text("version", required=True))
    stage = message.text("stage", required=True).capitalize()
    if stage not in STAGES:
        raise InvalidInput(f"Invalid Model Version stage: {stage}; one of {', '.join(STAGES)}")
    archive = body.get("archive_existing_versions") is True
    for other in _versions(conn, who, name) if archive and stage != "None" else []:
        if other["id"] != model["id"] and _value(other, STAGE) == stage:
            _set_tag(conn, who, other, STAGE, "Archived")
    model = _set_tag(conn, who, model, STAGE, stage)
    return {"model_version": model_version(model)}


@router.post("/registered-models/alias")
def set_alias(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    name, alias = message.text("name", required=True), message.text("alias", required=True)
    _entry(conn, who, name, access.WRITE)
    model = _version(conn, who, name, message.text("version", required=True))
    for other in _versions(conn, who, name):
        if f"{ALIAS}{alias}" in other["tags"]:
            _drop_tag(conn, who, other, f"{ALIAS}{alias}")
    access.require_model(conn, who, model["id"], access.WRITE)
    model_store.update_model(conn, model["id"], {"tags": [*model["tags"], f"{ALIAS}{alias}"]})
    return {}


@router.delete("/registered-models/alias")
def delete_alias(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    name, alias = message.text("name", required=True), message.text("alias", required=True)
    _entry(conn, who, name, access.WRITE)
    for model in _versions(conn, who, name):
        if f"{ALIAS}{alias}" in model["tags"]:
            _drop_tag(conn, who, model, f"{ALIAS}{alias}")
    return {}


@router.get("/registered-models/alias")
def get_by_alias(
    name: Annotated[str, Query()], alias: Annotated[str, Query()], conn: Conn, who: Who
) -> dict[str, Any]:
    for model in _versions(conn, who, name):
        if f"{ALIAS}{alias}" in model["tags"]:
            return {"model_version": model_version(model)}
    raise NotFound(f"Registered model alias {alias} not found.")


def _set_tag(
    conn: sa.Connection, who: Principal, model: dict[str, Any], prefix: str, value: str
) -> dict[str, Any]:
    access.require_model(conn, who, model["id"], access.WRITE)
    tags = [t for t in model["tags"] if not t.startswith(prefix)] + [f"{prefix}{value}"]
    return model_store.update_model(conn, model["id"], {"tags": tags})


def _drop_tag(conn: sa.Connection, who: Principal, model: dict[str, Any], tag: str) -> None:
    access.require_model(conn, who, model["id"], access.WRITE)
    model_store.update_model(conn, model["id"], {"tags": [t for t in model["tags"] if t != tag]})


# The client adds this to every registry search; no model here is a prompt, so it holds.
_NOT_A_PROMPT = "tag.`mlflow.prompt.is_prompt` != 'true'"


def _comparisons(call: str, text: str) -> list[tuple[str, str, str]]:
    """The ``AND``-joined comparisons of a filter."""
    terms = (t.strip() for t in text.replace(" and ", " AND ").split(" AND "))
    return [_comparison(call, t) for t in terms if t and t != _NOT_A_PROMPT]


def _comparison(call: str, text: str) -> tuple[str, str, str]:
    """``field = 'value'`` or ``field LIKE 'value'``."""
    for op in (" LIKE ", " ILIKE ", "="):
        field, sep, value = text.partition(op)
        value = value.strip()
        if sep and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            return field.strip().strip("`"), op.strip().upper().lstrip("I"), value[1:-1]
    raise _unsupported(call, f"filter {text!r} is not supported: name = '...' or name LIKE '...'")
