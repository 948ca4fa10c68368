"""``tunelab import clearml PATH``: ClearML offline sessions as tasks.

A script run with ``Task.set_offline(True)`` leaves a session in ClearML's cache
(``~/.clearml/cache/offline/offline-<id>`` and the same as ``.zip``): ``task.json`` (the task:
name, project, hyperparameters, configuration, script, artifacts), ``metrics.jsonl`` and
``log.jsonl`` (one JSON list of events per line) and ``data/`` (images and artifact files).
PATH is such a folder or zip, or a folder holding several (a folder and its zip are one
session). What ClearML's own ``Task.import_offline_session`` sends, this writes:

- hyperparameters and configuration objects as they are, the script as the execution;
- scalars (``training_stats_scalar``) with their iterations and times;
- plots (plotly figures) as ``plotly`` plots, debug images as debug samples;
- the log as console lines (``error`` and ``critical`` levels as stderr);
- the artifacts' files, with their type and preview.

Example::

    summary = import_sessions(client, Path("~/.clearml/cache/offline").expanduser())
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunelab.domain.task import TaskType
from tunelab.errors import InvalidInput
from tunelab.importers.progress import ImportProgress, Summary
from tunelab.importers.runs import RunEnd, RunPlan, SourceError, import_runs
from tunelab.importers.writer import RunWriter
from tunelab.sdk.transport import ApiClient

TASK_FILE = "task.json"
METRICS_FILE = "metrics.jsonl"
LOG_FILE = "log.jsonl"
_STDERR_LEVELS = frozenset({"error", "critical", "fatal"})
_TYPES = frozenset(t.value for t in TaskType)


@dataclass(frozen=True)
class Session:
    """One offline session: its folder or zip and its ``task.json``."""

    path: Path
    task: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.task.get("id") or self.path.stem)


def import_sessions(
    client: ApiClient, path: Path, progress: ImportProgress | None = None
) -> Summary:
    """Import every offline session at ``path`` not imported yet."""
    sessions = find_sessions(Path(path).expanduser())
    if not sessions:
        raise InvalidInput(f"no ClearML offline session (a {TASK_FILE}) at {path}")
    # A task.json of the wrong shape fails its session before the import starts.
    plans: dict[str, RunPlan] = {}
    damaged: list[tuple[str, str]] = []
    for session in sessions:
        try:
            plans[session.id] = RunPlan(f"clearml:{session.id}", _label(session), _body(session))
        except SourceError as exc:
            damaged.append((_label(session), str(exc)))
    readable = [session for session in sessions if session.id in plans]

    def plan(session: Session) -> RunPlan:
        return plans[session.id]

    summary = import_runs(client, readable, plan=plan, write=write_session, progress=progress)
    summary.failed += damaged
    return summary


def _label(session: Session) -> str:
    task = session.task
    return f"{task.get('project_name') or 'Default'}/{task.get('name') or session.id}"


def find_sessions(path: Path) -> list[Session]:
    """The sessions at ``path``; a folder and its zip count once (the folder)."""
    if path.is_file() or (path / TASK_FILE).is_file():
        candidates = [path]
    else:
        candidates = sorted(p for p in path.iterdir() if p.is_dir() or p.suffix == ".zip")
    found: dict[str, Session] = {}
    for candidate in candidates:
        task = _task_json(candidate)
        if task is None:
            continue
        session = Session(candidate, task)
        if session.id not in found or candidate.is_dir():
            found[session.id] = session
    return list(found.values())


def _task_json(path: Path) -> dict[str, Any] | None:
    try:
        if path.is_dir():
            text = (path / TASK_FILE).read_text()
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                text = archive.read(TASK_FILE).decode()
        else:
            return None
        task = json.loads(text)
    except (OSError, KeyError, ValueError):
        return None
    return task if isinstance(task, dict) else None


def _body(session: Session) -> dict[str, Any]:
    task = session.task
    params = {
        section: {
            name: {
                "value": str(p.get("value", "")),
                "type": str(p.get("type") or "str"),
                "description": str(p.get("description") or "")[:255],
            }
            for name, p in _entries(session, entries, f"hyperparams.{section}")
        }
        for section, entries in _mapping(session, task.get("hyperparams"), "hyperparams").items()
    }
    config = {
        name: {
            "text": str(obj.get("value", "")),
            "type": str(obj.get("type") or "dictionary"),
            "description": str(obj.get("description") or "")[:255],
        }
        for name, obj in _entries(session, task.get("configuration"), "configuration")
    }
    kind, tags = task.get("type"), task.get("tags") or []
    body: dict[str, Any] = {
        "name": str(task.get("name") or session.id)[:255],
        "project": str(task.get("project_name") or "Default"),
        "type": kind if isinstance(kind, str) and kind in _TYPES else "custom",
        "tags": [tags] if isinstance(tags, str) else [str(t) for t in tags],
        "comment": str(task.get("comment") or ""),
        "hyperparameters": params,
        "configuration": config,
        "execution": _execution(_mapping(session, task.get("script"), "script")),
    }
    return body


def _mapping(session: Session, value: Any, what: str) -> dict[str, Any]:
    """``value`` (None: empty) as a mapping with text keys; a task.json that holds something
    else there fails its session."""
    if not isinstance(value or {}, dict):
        raise SourceError(f"{session.path}: {TASK_FILE}: {what} is not a mapping")
    return {str(key): item for key, item in (value or {}).items()}


def _entries(session: Session, value: Any, what: str) -> list[tuple[str, dict[str, Any]]]:
    """``value``'s entries, each itself a mapping."""
    entries = _mapping(session, value, what)
    return [(name, _mapping(session, entry, f"{what}.{name}")) for name, entry in entries.items()]


def _execution(script: dict[str, Any]) -> dict[str, str]:
    requirements = script.get("requirements") or {}
    fields = {
        "repository": script.get("repository"),
        "branch": script.get("branch"),
        "commit": script.get("version_num"),
        "entry_point": script.get("entry_point"),
        "working_dir": script.get("working_dir"),
        "binary": script.get("binary"),
        "diff": script.get("diff"),
        "requirements": requirements.get("pip") if isinstance(requirements, dict) else None,
    }
    return {key: str(value) for key, value in fields.items() if value}


def write_session(session: Session, writer: RunWriter) -> RunEnd:
    """Send one session's events and files; ``RunEnd`` spans its first and last event."""
    with tempfile.TemporaryDirectory(prefix="tunelab-clearml-") as scratch:
        root = session.path
        if not root.is_dir():
            try:
                with zipfile.ZipFile(root) as archive:
                    archive.extractall(scratch)  # names checked by zipfile (no ../ escapes)
            except (OSError, zipfile.BadZipFile) as exc:
                raise SourceError(f"{root}: cannot read the zip: {exc}") from exc
            root = Path(scratch)
        times = _Times()
        try:
            _write_metrics(session, root, writer, times)
            _write_log(root, writer, times)
            _write_artifacts(session, root, writer)
        except (ValueError, TypeError, AttributeError) as exc:
            # An event or artifact entry whose values have another shape than ClearML's.
            raise SourceError(f"{session.path}: a value of the wrong shape: {exc}") from exc
    return RunEnd("completed", started=times.first, completed=times.last)


class _Times:
    first: float | None = None
    last: float | None = None

    def saw(self, stamp_ms: Any) -> float | None:
        if not isinstance(stamp_ms, int | float):
            return None
        stamp = stamp_ms / 1000
        self.first = stamp if self.first is None else min(self.first, stamp)
        self.last = stamp if self.last is None else max(self.last, stamp)
        return stamp


def _events(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open() as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                events = json.loads(line)
            except ValueError as exc:
                raise SourceError(f"{path}:{number}: not JSON: {exc}") from exc
            for event in events if isinstance(events, list) else [events]:
                if isinstance(event, dict):
                    yield event


def _write_metrics(session: Session, root: Path, writer: RunWriter, times: _Times) -> None:
    series: dict[tuple[str, str], tuple[list[int], list[float], list[float]]] = {}
    for event in _events(root / METRICS_FILE):
        stamp = times.saw(event.get("timestamp"))
        kind = event.get("type")
        title, name = str(event.get("metric", "")), str(event.get("variant", ""))
        iteration = int(event.get("iter") or 0)
        if kind == "training_stats_scalar":
            columns = series.setdefault((title, name), ([], [], []))
            columns[0].append(iteration)
            columns[1].append(float(event.get("value", float("nan"))))
            columns[2].append(stamp if stamp is not None else 0.0)
        elif kind == "plot":
            figure = json.loads(event.get("plot_str") or "{}")
            data = {"data": figure.get("data", []), "layout": figure.get("layout", {})}
            writer.plot(
                {"title": title, "series": name, "iteration": iteration, "kind": "plotly",
                 "data": data}
            )  # fmt: skip
        elif kind == "training_debug_image":
            local = _local_file(session, root, f"data/{event.get('key', '')}", event.get("url"))
            if local is not None:
                writer.debug_sample(title, name, iteration, local, local.name)
    for (title, name), (its, values, stamps) in series.items():
        writer.scalars(title, name, its, values, stamps)


def _write_log(root: Path, writer: RunWriter, times: _Times) -> None:
    for event in _events(root / LOG_FILE):
        stamp = times.saw(event.get("timestamp"))
        stream = "stderr" if event.get("level") in _STDERR_LEVELS else "stdout"
        for line in str(event.get("msg", "")).splitlines():
            writer.console(line, ts=stamp, stream=stream)


def _write_artifacts(session: Session, root: Path, writer: RunWriter) -> None:
    execution = session.task.get("execution") or {}
    for artifact in execution.get("artifacts") or []:
        if artifact.get("mode", "output") != "output" or not artifact.get("key"):
            continue
        local = _local_file(session, root, None, artifact.get("uri"))
        if local is None:
            continue  # a file stored elsewhere: its record alone would point nowhere
        type_data = artifact.get("type_data") or {}
        writer.artifact(
            str(artifact["key"]),
            local,
            type=str(artifact.get("type") or "file"),
            preview=str(type_data.get("preview") or ""),
            metadata=artifact.get("metadata") or {},
        )


def _local_file(session: Session, root: Path, relative: str | None, uri: Any) -> Path | None:
    """The session's copy of a file: by its path inside the session, else by the part of
    its recorded (absolute) path after the session's folder name."""
    candidates = [relative] if relative else []
    marker = f"{session.id}/"
    if isinstance(uri, str) and marker in uri:
        candidates.append(uri.split(marker, 1)[1])
    for candidate in candidates:
        path = (root / candidate).resolve()
        if path.is_relative_to(root.resolve()) and path.is_file():
            return path
    return None
