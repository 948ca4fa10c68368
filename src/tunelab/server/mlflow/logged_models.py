"""MLflow 3's logged models (``/logged-models``), as Tunelab output models of the run's task.

``mlflow.<flavor>.log_model`` creates a logged model, names it among the run's outputs,
stores its files under the model's ``artifact_location``
(``mlflow-artifacts:/<experiment>/models/<model id>/artifacts``, ``server.mlflow.artifacts``)
and finalizes it. Here a logged model is a Tunelab model of its source run's task: the
same id, its name, its framework from the flavors of its ``MLmodel`` file, its ``uri`` the
folder of its files in the file store, its params in ``config_text`` as JSON. It is
``READY`` once its ``MLmodel`` file is stored. A logged model needs a source run (its files
belong to the run's task); MLflow tags on it are answered but not kept.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body

from tunelab.domain.access import Principal
from tunelab.errors import InvalidInput, NotFound
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.mlflow import mapping, run_reads
from tunelab.server.mlflow.envelope import MlflowError
from tunelab.server.mlflow.messages import Message
from tunelab.store import models as model_store
from tunelab.store.schema import models, projects

router = APIRouter()
JsonBody = Annotated[dict[str, Any], Body()]

# An MLflow flavor as the framework Tunelab names (others keep the flavor's name).
FRAMEWORKS = {
    "sklearn": "scikit-learn",
    "pytorch": "PyTorch",
    "tensorflow": "TensorFlow",
    "keras": "Keras",
    "xgboost": "XGBoost",
    "lightgbm": "LightGBM",
    "onnx": "ONNX",
}


def model_folder(task_id: str, model_id: str) -> str:
    """The file-store folder of a logged model's files (under its run's task)."""
    return f"mlflow/run.{task_id}/models/{model_id}"


def framework_of(mlmodel: str) -> str:
    """The framework named by an ``MLmodel`` file's flavors (its YAML read line by line: the
    first flavor under ``flavors:`` that is not the generic ``python_function``)."""
    inside = False
    for line in mlmodel.splitlines():
        if not line.startswith(" "):
            inside = line.rstrip() == "flavors:"
            continue
        name = line.strip().rstrip(":")
        flavor = inside and not line.startswith("   ") and line.rstrip().endswith(":")
        if flavor and name != "python_function":
            return FRAMEWORKS.get(name, name)
    return ""


def require_logged_model(
    conn: sa.Connection, who: Principal, model_id: str, need: Any
) -> dict[str, Any]:
    try:
        access.require_model(conn, who, model_id, need)
        return model_store.get_model(conn, model_id)
    except NotFound:
        raise NotFound(f"Logged model '{model_id}' not found") from None


def logged_model(model: dict[str, Any]) -> dict[str, Any]:
    """A Tunelab model as MLflow's ``LoggedModel``."""
    project = model["project"]
    experiment_id = mapping.experiment_id_of(project["id"], project["name"])
    try:
        params = json.loads(model["config_text"] or "{}").get("params", {})
    except (ValueError, AttributeError):
        params = {}
    info: dict[str, Any] = {
        "model_id": model["id"],
        "experiment_id": experiment_id,
        "name": model["name"],
        "artifact_uri": f"mlflow-artifacts:/{experiment_id}/models/{model['id']}/artifacts",
        "creation_timestamp_ms": mapping.millis(model["created"]),
        "last_updated_timestamp_ms": mapping.millis(model["last_update"]),
        "status": "LOGGED_MODEL_READY" if model["uri"] else "LOGGED_MODEL_PENDING",
        "tags": [{"key": "tunelab.framework", "value": model["framework"]}]
        if model["framework"]
        else [],
    }
    if model["task_id"]:
        info["source_run_id"] = model["task_id"]
    return {
        "info": info,
        "data": {"params": [{"key": k, "value": str(v)} for k, v in sorted(params.items())]},
    }


@router.post("/logged-models")
def create_logged_model(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    run_id = message.text("source_run_id")
    if not run_id:
        raise MlflowError(
            "CreateLoggedModel: Tunelab keeps a logged model's files with its run: "
            "source_run_id is required",
            {"error_code": "INVALID_PARAMETER_VALUE"},
        )
    run_reads.require_run(conn, who, run_id, access.WRITE)
    params = {p.text("key", required=True): p.text("value") for p in message.messages("params")}
    model = model_store.create_model(
        conn,
        name=message.text("name") or "model",
        task_id=run_id,
        config_text=json.dumps({"params": params}) if params else "",
    )
    return {"model": logged_model(model)}


@router.get("/logged-models/{model_id}")
def get_logged_model(model_id: str, conn: Conn, who: Who) -> dict[str, Any]:
    return {"model": logged_model(require_logged_model(conn, who, model_id, access.READ))}


@router.patch("/logged-models/{model_id}")
def finalize_logged_model(model_id: str, body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """The model's status follows its files (``READY`` once ``MLmodel`` is stored): a
    finalize changes nothing more."""
    Message(body).enum("status", STATUSES, "LOGGED_MODEL_READY")
    return {"model": logged_model(require_logged_model(conn, who, model_id, access.WRITE))}


STATUSES = (
    "LOGGED_MODEL_STATUS_UNSPECIFIED",
    "LOGGED_MODEL_PENDING",
    "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED",
)


@router.patch("/logged-models/{model_id}/tags")
def set_logged_model_tags(model_id: str, body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    Message(body).messages("tags")
    require_logged_model(conn, who, model_id, access.WRITE)
    return {}


@router.delete("/logged-models/{model_id}/tags/{tag_key}")
def delete_logged_model_tag(model_id: str, tag_key: str, conn: Conn, who: Who) -> dict[str, Any]:
    require_logged_model(conn, who, model_id, access.WRITE)
    return {}


@router.post("/logged-models/search")
def search_logged_models(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """The logged models of the experiments named (every model of their projects),
    ``name = '...'`` and ``source_run_id = '...'`` filters understood."""
    message = Message(body)
    query = sa.select(models.c.id).join(projects, projects.c.id == models.c.project_id)
    project_ids = []
    for experiment_id in message.texts("experiment_ids"):
        found = run_reads.project_row(conn, experiment_id)
        if found is None:
            continue
        access.require_project(conn, who, found["name"], access.READ)
        project_ids.append(found["id"])
    query = query.where(models.c.project_id.in_(project_ids), models.c.task_id.is_not(None))
    for field, value in _filters(message.text("filter")):
        column = models.c.name if field == "name" else models.c.task_id
        query = query.where(column == value)
    ids = conn.execute(query.order_by(models.c.created.desc())).scalars().all()
    found_models = [model_store.get_model(conn, i) for i in ids]
    return {"models": [logged_model(m) for m in found_models]}


def _filters(text: str) -> list[tuple[str, str]]:
    """``name = 'x' AND source_run_id = 'y'`` as pairs; anything else is refused."""
    pairs = []
    for term in filter(None, (t.strip() for t in text.split(" AND "))):
        field, sep, value = term.partition("=")
        field, value = field.strip(), value.strip()
        if (
            not sep
            or field not in ("name", "source_run_id")
            or len(value) < 2
            or value[0] != value[-1]
            or value[0] not in "'\""
        ):
            raise InvalidInput(
                f"SearchLoggedModels: filter {term!r} is not supported here: "
                "only name = '...' and source_run_id = '...' joined by AND"
            )
        pairs.append((field, value[1:-1]))
    return pairs


@router.post("/runs/outputs")
def log_outputs(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """The run's output models: those are the task's models already (created with it)."""
    message = Message(body)
    run_id = message.run_id()
    run_reads.require_run(conn, who, run_id, access.WRITE)
    for output in message.messages("models"):
        model = require_logged_model(conn, who, output.text("model_id", required=True), access.READ)
        if model["task_id"] != run_id:
            raise InvalidInput(f"LogOutputs: logged model {model['id']} was created by another run")
    return {}
