"""MLflow's proxied artifact routes (``/mlflow/api/2.0/mlflow-artifacts/artifacts``): the
client's ``log_artifact``, ``list_artifacts``, ``download_artifacts`` and
``delete_artifacts`` for a run whose ``artifact_uri`` is
``mlflow-artifacts:/<experiment>/<run>/artifacts``, and for a logged model's files
(``mlflow-artifacts:/<experiment>/models/<model>/artifacts``, ``logged_models``).

Each file is stored in the server's file store under the run's task
(``mlflow/run.<task id>/artifacts/<path>``, a logged model's under
``mlflow/run.<task id>/models/<model id>/<path>``, so the task's readers may read them like
any of its files) and recorded as an artifact of the task: type ``mlflow`` (a model's file:
``mlflow-model``), its MLflow path in ``metadata.path``, named by that path with ``/``
written ``%2F`` (a Tunelab artifact name is one path segment). A path is checked segment by
segment before it reaches the store: no ``..``, ``.``, empty segment, backslash or control
character.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from tunelab.domain.access import Principal
from tunelab.domain.path_names import is_segment_name
from tunelab.errors import InvalidInput, NotFound
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.files import _receive
from tunelab.server.api.object_download import object_response
from tunelab.server.db_gate import in_transaction
from tunelab.server.file_cleanup import delete_files
from tunelab.server.file_store import FileStore, StoredKey
from tunelab.server.mlflow import logged_models, run_reads
from tunelab.server.security_headers import user_file_headers
from tunelab.store import artifacts
from tunelab.store import models as model_store
from tunelab.store.schema import task_artifacts

PATH = "/mlflow/api/2.0/mlflow-artifacts"
RUN_FILE = "mlflow"
MODEL_FILE = "mlflow-model"
MAX_PATH_LENGTH = 1024
# A logged model's description, read for its flavors (the framework) when stored.
MLMODEL = "MLmodel"
MAX_MLMODEL = 1024 * 1024

router = APIRouter()


@dataclass(frozen=True)
class Place:
    """Where an artifact path leads: the task owning the files, the kind of record, the
    folder of the run's (or the model's) files, and the path inside it."""

    task_id: str
    kind: str
    folder: str  # "" for a run's files, "models/<model id>" for a logged model's
    rest: str
    model_id: str | None = None

    def full(self, path: str) -> str:
        return f"{self.folder}/{path}" if self.folder else path

    def key(self, path: str) -> str:
        if self.model_id is not None:
            return f"{logged_models.model_folder(self.task_id, self.model_id)}/{path}"
        return f"mlflow/run.{self.task_id}/artifacts/{path}"


def check_path(path: str) -> list[str]:
    """The segments of an artifact path; InvalidInput for one that could escape its folder."""
    parts = path.split("/")
    if len(path) > MAX_PATH_LENGTH or not all(p and is_segment_name(p) for p in parts):
        raise InvalidInput(
            f"Invalid artifact path {path[:200]!r}: segments must be non-empty, not '.' or "
            "'..', without '\\' or control characters"
        )
    return parts


def _place(conn: sa.Connection, who: Principal, path: str, need: Any) -> Place:
    """``<experiment>/<run>/artifacts[/<rest>]`` or
    ``<experiment>/models/<model>/artifacts[/<rest>]``, once ``who`` may ``need`` it."""
    parts = check_path(path)
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        model = logged_models.require_logged_model(conn, who, parts[2], need)
        if model["task_id"] is None:
            raise NotFound(f"Logged model '{parts[2]}' has no run to keep its files")
        experiment_id = logged_models.logged_model(model)["info"]["experiment_id"]
        place = Place(
            model["task_id"], MODEL_FILE, f"models/{model['id']}", "/".join(parts[4:]), model["id"]
        )
    elif len(parts) >= 3 and parts[2] == "artifacts":
        run_reads.require_run(conn, who, parts[1], need)
        experiment_id = run_reads.runs(conn, [parts[1]])[0]["info"]["experiment_id"]
        place = Place(parts[1], RUN_FILE, "", "/".join(parts[3:]))
    else:
        raise NotFound(
            f"No artifact root at {path[:200]!r}: expected <experiment>/<run>/artifacts "
            "or <experiment>/models/<model>/artifacts"
        )
    if experiment_id != parts[0]:
        raise NotFound(f"No artifact root at {path[:200]!r}: not in experiment {parts[0]!r}")
    return place


def _name(path: str) -> str:
    return path.replace("%", "%25").replace("/", "%2F")


def _store(request: Request) -> FileStore:
    store: FileStore = request.app.state.file_store
    return store


def _files(conn: sa.Connection, place: Place) -> dict[str, dict[str, Any]]:
    """The files of the run (or of the logged model) by path inside its folder."""
    rows = conn.execute(
        sa.select(task_artifacts).where(
            task_artifacts.c.task_id == place.task_id, task_artifacts.c.type == place.kind
        )
    )
    prefix = place.full("")
    found = {}
    for row in rows:
        path = str(row.metadata.get("path", ""))
        if path.startswith(prefix):
            found[path[len(prefix) :]] = dict(row._mapping)
    return found


@router.put("/artifacts/{path:path}")
async def upload(path: str, request: Request, who: Who) -> dict[str, Any]:
    place = await in_transaction(request, _writable, who, path)
    if not place.rest:
        raise InvalidInput("An artifact needs a file path under its artifact root")
    store = _store(request)
    key = place.key(place.rest)
    writer = await run_in_threadpool(store.writer, key, None)
    stored = await _receive(request, writer)
    mlmodel = None
    if place.model_id is not None and place.rest == MLMODEL and stored.size <= MAX_MLMODEL:
        mlmodel = await run_in_threadpool(_read_text, store, key)
    await in_transaction(request, _record, place, stored, mlmodel)
    return {}


def _writable(conn: sa.Connection, who: Principal, path: str) -> Place:
    """The place, once the task takes outputs (a published one is refused before any byte
    is stored, so no file is left without its record)."""
    place = _place(conn, who, path, access.WRITE)
    artifacts.lock_outputs(conn, place.task_id)
    return place


def _read_text(store: FileStore, key: str) -> str:
    found = store.read(key)
    if isinstance(found, Path):
        return found.read_text(errors="replace")
    return ""  # in an object store: the framework stays unknown


def _record(conn: sa.Connection, place: Place, stored: StoredKey, mlmodel: str | None) -> None:
    name = place.rest.rsplit("/", 1)[-1]
    artifacts.put_artifact(
        conn,
        place.task_id,
        _name(place.full(place.rest)),
        type=place.kind,
        format=name.rsplit(".", 1)[-1][:64] if "." in name else "",
        uri=f"tunelab://{place.key(place.rest)}",
        size=stored.size,
        sha256=stored.sha256,
        metadata={"path": place.full(place.rest)},
    )
    if place.model_id is not None and mlmodel is not None:
        # The model is ready: its uri is the folder of its files.
        folder = logged_models.model_folder(place.task_id, place.model_id)
        model_store.update_model(
            conn,
            place.model_id,
            {"uri": f"tunelab://{folder}", "framework": logged_models.framework_of(mlmodel)},
        )


@router.get("/artifacts")
def list_files(path: Annotated[str, Query()], conn: Conn, who: Who) -> dict[str, Any]:
    """The files and folders directly under ``path`` (relative to it)."""
    place = _place(conn, who, path.strip("/"), access.READ)
    prefix = f"{place.rest}/" if place.rest else ""
    found: dict[str, dict[str, Any]] = {}
    for name, row in _files(conn, place).items():
        if not name.startswith(prefix):
            continue
        child, _, below = name[len(prefix) :].partition("/")
        if below:
            found[child] = {"path": child, "is_dir": True}
        else:
            found[child] = {"path": child, "is_dir": False, "file_size": row["size"]}
    return {"files": [found[k] for k in sorted(found)]}


@router.get("/artifacts/{path:path}")
def download(path: str, request: Request, conn: Conn, who: Who) -> Response:
    place = _place(conn, who, path, access.READ)
    row = _files(conn, place).get(place.rest)
    if row is None:
        raise NotFound(f"No artifact {place.rest!r} at {path[:200]!r}")
    key = str(row["uri"]).removeprefix("tunelab://")
    headers = user_file_headers(place.rest.rsplit("/", 1)[-1])
    found = _store(request).read(key)
    if isinstance(found, Path):
        return FileResponse(found, media_type="application/octet-stream", headers=headers)
    return object_response(found, request, headers)


@router.delete("/artifacts/{path:path}")
async def delete(path: str, request: Request, who: Who) -> dict[str, Any]:
    """The file at ``path``, or every file under it: the records committed first, then
    the files they alone named."""
    uris = await in_transaction(request, _delete_records, who, path)
    await delete_files(request, uris)
    return {}


def _delete_records(conn: sa.Connection, who: Principal, path: str) -> list[str]:
    place = _place(conn, who, path, access.WRITE)
    uris: list[str] = []
    for name, row in _files(conn, place).items():
        if not place.rest or name == place.rest or name.startswith(f"{place.rest}/"):
            uris.extend(artifacts.delete_artifact(conn, place.task_id, row["name"]))
    return uris
