"""``tunelab import mlflow --tracking-uri URI``: MLflow experiments, runs and registered models.

Read through MLflow's own client (``pip install mlflow-skinny``; a ``sqlite:///`` store also
needs SQLAlchemy and Alembic, which the server extra brings), so any store it reads works:
``file:``, ``sqlite:///``, a tracking server's ``http(s)://``; metric histories, which the
client would read as an object per point, straight from a file or SQL store
(``mlflow_history``).

- an experiment becomes the project of its name (``/Users/me/exp`` -> ``Users/me/exp``);
- a run becomes a task: its name, status (``FINISHED`` completed, ``FAILED`` failed,
  ``KILLED`` stopped), start and end times. A run still ``RUNNING`` is skipped, so a later
  import takes it whole;
- params: the hyperparameter section ``MLflow``, each value's text as MLflow holds it and
  its type as it parses (``0.1`` float, ``32`` int, ``true`` bool, else str);
- tags: ``mlflow.note.content`` is the comment, a tag without a value a task tag, every
  other tag a user property (``mlflow.user``, ``mlflow.source.name`` included);
- metrics: every point of each metric's history (steps and timestamps kept), the key split
  into title and series as TensorBoard tags are (``train/loss``: ``train`` / ``loss``);
- artifacts: downloaded and stored as the task's artifacts, named by their path;
- registered models: each version whose run was imported becomes a model of that task,
  tagged ``v<version>``, its largest file stored as the weights.

Example::

    summary = import_tracking(client, "sqlite:///mlflow.db", experiments=["baseline"])
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tunelab.errors import InvalidInput, NotFound, ServerUnavailable
from tunelab.importers.mlflow_history import Reader, file_root, history_reader, run_search
from tunelab.importers.progress import ImportProgress, Summary
from tunelab.importers.runs import RunEnd, RunPlan, SourceError, import_runs
from tunelab.importers.writer import RunWriter
from tunelab.integrations.tensorboard.names import SCALAR, split_tag
from tunelab.sdk.parameters import parse_bool
from tunelab.sdk.transport import ApiClient

PARAMS_SECTION = "MLflow"
_STATUSES = {"FINISHED": "completed", "FAILED": "failed", "KILLED": "stopped"}
_NOTE_TAG = "mlflow.note.content"
_NAME_TAG = "mlflow.runName"
_PAGE = 1000


def import_tracking(
    client: ApiClient,
    tracking_uri: str,
    experiments: Sequence[str] = (),
    progress: ImportProgress | None = None,
) -> Summary:
    """Import the runs of ``experiments`` (all when empty) and their registered models."""
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise InvalidInput(
            "importing from MLflow needs its client: pip install mlflow-skinny"
        ) from None
    try:
        urllib.parse.urlsplit(tracking_uri).port  # noqa: B018  # parses the whole URI
    except ValueError as exc:
        raise InvalidInput(f"the tracking URI cannot be read: {exc}") from None
    _require_store(tracking_uri)
    if "://" not in tracking_uri or tracking_uri.startswith("file:"):
        # MLflow 3 refuses its file store unless asked: reading one to move off it is
        # what the refusal recommends.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    # Its own bar per download would interleave with the import's.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    source = _opened(MlflowClient, tracking_uri)
    with _default_stores(tracking_uri), history_reader(source, tracking_uri) as histories:
        chosen = _experiments(source, experiments)
        runs, running = _runs(run_search(source, tracking_uri), chosen)

        def plan(run: Any) -> RunPlan:
            return RunPlan(f"mlflow:{run.info.run_id}", _label(run, chosen), _body(run, chosen))

        def write(run: Any, writer: RunWriter) -> RunEnd:
            return _write_run(tracking_uri, histories, run, writer)

        summary = import_runs(client, runs, plan=plan, write=write, progress=progress)
        summary.skipped += [(_label(r, chosen), "still running in MLflow") for r in running]
        tasks = {sid.removeprefix("mlflow:"): task for sid, task in summary.tasks.items()}
        _import_models(client, source, tracking_uri, tasks, summary)
    return summary


def _opened(client_class: Any, tracking_uri: str) -> Any:
    """MLflow's client on ``tracking_uri``, checked by one read. A tracking server that does
    not answer is said at once (MLflow's client retries each call for minutes), and a URI
    MLflow cannot use (an unknown scheme, a database driver not installed) in one line."""
    from mlflow.exceptions import MlflowException

    shown, password = _shown(tracking_uri)
    parts = urllib.parse.urlsplit(tracking_uri)
    if parts.scheme in ("http", "https"):
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:  # a bare connection: no request, nothing sent
            socket.create_connection((parts.hostname or "", port), timeout=10).close()
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ServerUnavailable(
                f"no MLflow tracking server answers at {shown}: {reason}"
            ) from None
    try:
        source = client_class(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        source.search_experiments(max_results=1)
    except ModuleNotFoundError as exc:
        raise InvalidInput(
            f"MLflow cannot open {shown!r}: it needs the Python package {exc.name}"
        ) from None
    except MlflowException as exc:
        message = exc.message.replace(password, "***") if password else exc.message
        raise InvalidInput(f"MLflow cannot open {shown!r}: {message}") from None
    return source


def _shown(uri: str) -> tuple[str, str]:
    """``uri`` with its password hidden, and the password ("" when none)."""
    password = urllib.parse.urlsplit(uri).password or ""
    return (uri.replace(f":{password}@", ":***@") if password else uri), password


def _require_store(tracking_uri: str) -> None:
    """A local store must be there already: MLflow's client makes an empty one where none is
    (a folder tree, a database), so a mistyped path would import nothing and succeed."""
    root = file_root(tracking_uri)
    if root is not None:
        if not root.is_dir():
            raise NotFound(f"no MLflow store at {root}: no such folder")
        return
    if urllib.parse.urlparse(tracking_uri).scheme.partition("+")[0] != "sqlite":
        return
    import sqlalchemy as sa

    database = sa.engine.make_url(tracking_uri).database
    if not database or database == ":memory:":
        raise InvalidInput(f"no MLflow store in {tracking_uri!r}: name the database's file")
    if not Path(database).is_file():
        raise NotFound(f"no MLflow store at {database}: no such file")


@contextlib.contextmanager
def _default_stores(uri: str) -> Iterator[None]:
    """MLflow's own stores open default clients (a file registry reads each version's logged
    model through ``MlflowClient()``): for the import, MLflow's defaults are the source, not
    a new ``mlflow.db`` in the working directory. Through MLflow's variables, which its
    defaults read when nothing set them in the process, and which are put back after."""
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, uri))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _experiments(source: Any, names: Sequence[str]) -> dict[str, str]:
    """``{experiment id: project name}``."""
    if names:
        found = {}
        for name in names:
            experiment = source.get_experiment_by_name(name)
            if experiment is None:
                raise NotFound(f"no MLflow experiment named {name!r}")
            found[experiment.experiment_id] = _project(experiment.name)
        return found
    chosen: dict[str, str] = {}
    token = None
    while True:
        page = source.search_experiments(max_results=_PAGE, page_token=token)
        chosen.update({e.experiment_id: _project(e.name) for e in page})
        token = page.token
        if not token:
            return chosen


def _project(name: str) -> str:
    return "/".join(part for part in name.split("/") if part.strip()) or "Default"


def _runs(search: Callable[..., Any], experiments: dict[str, str]) -> tuple[list[Any], list[Any]]:
    """The runs of ``experiments``, oldest first: (ended, still running)."""
    found: list[Any] = []
    if experiments:
        token = None
        while True:
            page = search(
                list(experiments),
                max_results=_PAGE,
                order_by=["attributes.start_time ASC"],
                page_token=token,
            )
            found.extend(page)
            token = page.token
            if not token:
                break
    ended = [r for r in found if r.info.status in _STATUSES]
    return ended, [r for r in found if r.info.status not in _STATUSES]


def _label(run: Any, experiments: dict[str, str]) -> str:
    name = run.info.run_name or run.data.tags.get(_NAME_TAG) or run.info.run_id
    return f"{experiments[run.info.experiment_id]}/{name} ({run.info.run_id})"


def _body(run: Any, experiments: dict[str, str]) -> dict[str, Any]:
    tags = run.data.tags
    params = {
        name: {"value": text, "type": _parsed_type(text)}
        for name, text in sorted(run.data.params.items())
    }
    props = {
        key: {"value": value, "type": "str"}
        for key, value in sorted(tags.items())
        if value and key not in (_NOTE_TAG, _NAME_TAG)
    }
    return {
        "name": (run.info.run_name or tags.get(_NAME_TAG) or run.info.run_id)[:255],
        "project": experiments[run.info.experiment_id],
        "comment": tags.get(_NOTE_TAG, "")[:4000],
        "tags": sorted(key for key, value in tags.items() if not value),
        "hyperparameters": {PARAMS_SECTION: params} if params else {},
        "user_properties": props,
    }


def _parsed_type(text: str) -> str:
    for kind, parse in (("int", int), ("float", float)):
        try:
            parse(text)
        except ValueError:
            continue
        return kind
    try:
        parse_bool(text)
    except ValueError:
        return "str"
    return "bool"


def _write_run(tracking_uri: str, histories: Reader, run: Any, writer: RunWriter) -> RunEnd:
    for key, history in histories(run).items():
        title, series = split_tag(key, SCALAR)
        writer.scalars(title, series, history.steps, history.values, history.timestamps / 1000)
    _write_artifacts(tracking_uri, run, writer)
    start, end = run.info.start_time, run.info.end_time
    return RunEnd(
        _STATUSES[run.info.status],
        started=start / 1000 if start else None,
        completed=end / 1000 if end else None,
    )


def _write_artifacts(tracking_uri: str, run: Any, writer: RunWriter) -> None:
    import mlflow.artifacts

    # By the run's artifact URI: the client's calls by run id read the whole run first (on
    # a file store, every point of every metric).
    uri, run_id = run.info.artifact_uri, run.info.run_id
    if not mlflow.artifacts.list_artifacts(artifact_uri=uri, tracking_uri=tracking_uri):
        return
    with tempfile.TemporaryDirectory(prefix="tunelab-mlflow-") as scratch:
        try:
            root = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=uri,
                    dst_path=str(Path(scratch) / "files"),
                    tracking_uri=tracking_uri,
                )
            )
        except Exception as exc:  # the artifact store's own errors, whichever it is
            raise SourceError(f"run {run_id}: cannot download its artifacts: {exc}") from exc
        for path in sorted(root.iterdir()):
            if path.is_file():
                writer.artifact(path.name, path)
            elif path.is_dir():
                # An artifact's name is one URL segment: a folder goes whole, as a zip
                # (as ClearML uploads a folder).
                archive = shutil.make_archive(str(Path(scratch) / path.name), "zip", path)
                writer.artifact(path.name, Path(archive), type="folder")


def _import_models(
    client: ApiClient, source: Any, tracking_uri: str, tasks: dict[str, str], summary: Summary
) -> None:
    """Each registered model version whose run was imported, as a model of its task."""
    if not tasks:
        return
    token = None
    versions: list[Any] = []
    while True:
        page = source.search_model_versions(max_results=_PAGE, page_token=token)
        versions.extend(page)
        token = page.token
        if not token:
            break
    for version in sorted(versions, key=lambda v: (v.name, int(v.version))):
        label = f"model {version.name} v{version.version}"
        task_id = tasks.get(version.run_id or "")
        if task_id is None:
            summary.skipped.append((label, "its run is not imported"))
            continue
        tag = f"v{version.version}"
        same = client.list_models(task_id=task_id, name=version.name, tag=[tag])
        if same["items"]:
            summary.skipped.append((label, f"imported already as model {same['items'][0]['id']}"))
            continue
        model = _model(client, tracking_uri, version, task_id, tag)
        summary.models.append((label, str(model["id"])))


def _model(client: ApiClient, tracking_uri: str, version: Any, task_id: str, tag: str) -> Any:
    task = client.get_task(task_id)
    body: dict[str, Any] = {
        "name": version.name,
        "task_id": task_id,
        "project": task["project"]["name"],
        "tags": [tag, *sorted(a for a in (version.aliases or []) if a)],
        "comment": (version.description or "")[:255],
    }
    with tempfile.TemporaryDirectory(prefix="tunelab-mlflow-") as scratch:
        files = _version_files(version.source, tracking_uri, scratch)
        mlmodel = next((f for f in files if f.name == "MLmodel"), None)
        if mlmodel is not None:
            body["config_text"] = mlmodel.read_text(errors="replace")
        model = client.create_model(body)
        weights = max(files, key=lambda f: f.stat().st_size, default=None)
        if weights is not None:
            writer = RunWriter(client, task)
            stored = writer.store_file(weights, "models", version.name, tag, weights.name)
            client.register_model_weights(
                model["id"], uri=stored.uri, size=stored.size, sha256=stored.sha256
            )
    return model


def _version_files(uri: str, tracking_uri: str, scratch: str) -> list[Path]:
    """A model version's files, downloaded; none when its store cannot be reached."""
    import mlflow.artifacts

    try:
        root = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=scratch, tracking_uri=tracking_uri
            )
        )
    except Exception:  # the model is recorded without weights: its files are elsewhere
        return []
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
