"""``tunelab import wandb PATH``: W&B offline runs as tasks.

A script run with ``WANDB_MODE=offline`` (or ``wandb.init(mode="offline")``) leaves a folder
``wandb/offline-run-<time>-<id>`` holding ``run-<id>.wandb`` (every call of the run, read by
``tunelab.importers.wandb_log``) and ``files/`` (the files the run saved). PATH is such a
folder, or a folder holding several (``wandb/``, or the folder above it). Each run becomes a
task:

- project and name: the run's project (``Default`` when it has none) and display name;
- config: the hyperparameter section ``wandb``, typed (nested dicts flatten with ``/``);
- tags and notes: the task's tags and comment;
- history: each numeric key of ``wandb.log`` a scalar series, at the row's ``_step`` and
  ``_timestamp``, the key split on its last ``/`` (``train/loss``: ``train`` / ``loss``; a
  key without ``/`` is both title and series);
- summary: each numeric value a single value (the ``Summary`` table);
- ``files/``: each file an artifact named by its path there (``/`` written as ``.``);
- the end: exit code 0 completed, another failed; a run file without an end (the run was
  killed) stopped.

A run is known by its run id: a run resumed later into another folder (``resume=...``) is
imported from its first folder only, the later one is reported as imported already.

Reading needs W&B's protobuf classes: ``pip install 'tunelab[wandb]'``.

Example::

    summary = import_offline_runs(client, Path("wandb"))
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.importers.progress import ImportProgress, Summary
from tunelab.importers.runs import RunEnd, RunPlan, SourceError, import_runs
from tunelab.importers.wandb_log import read_records, record_class
from tunelab.importers.writer import RunWriter
from tunelab.sdk.logger import SUMMARY_METRIC
from tunelab.sdk.parameters import section_bodies
from tunelab.sdk.transport import ApiClient

PARAMS_SECTION = "wandb"
RUN_FILE_GLOB = "run-*.wandb"


@dataclass
class Series:
    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


@dataclass
class WandbRun:
    """What one run file says."""

    folder: Path
    id: str = ""
    project: str = ""
    name: str = ""
    notes: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Series] = field(default_factory=dict)
    started: float | None = None
    last_time: float | None = None
    exit_code: int | None = None
    runtime: float | None = None
    # Where the file could not be read: the records before it are kept (the task's name
    # and project), and the import reports the run as failed.
    error: SourceError | None = None


def import_offline_runs(
    client: ApiClient, path: Path, progress: ImportProgress | None = None
) -> Summary:
    """Import every offline run at ``path`` not imported yet."""
    record_class()  # say what to install before anything is read
    folders = find_runs(Path(path).expanduser())
    if not folders:
        raise InvalidInput(f"no W&B offline run (a {RUN_FILE_GLOB} file) at {path}")
    read: dict[Path, WandbRun] = {}

    def run_of(folder: Path) -> WandbRun:
        if folder not in read:
            read.clear()  # one run in memory at a time
            read[folder] = read_run(folder)
        return read[folder]

    def plan(folder: Path) -> RunPlan:
        run = run_of(folder)
        label = f"{run.project or 'Default'}/{run.name or run.id}"
        return RunPlan(f"wandb:{run.id}", label, _body(run))

    def write(folder: Path, writer: RunWriter) -> RunEnd:
        return _write_run(run_of(folder), writer)

    return import_runs(client, folders, plan=plan, write=write, progress=progress)


def find_runs(path: Path) -> list[Path]:
    """The run folders at ``path`` (a run folder, or a folder holding them), oldest first."""
    if any(path.glob(RUN_FILE_GLOB)):
        return [path]
    for root in (path, path / "wandb"):
        if root.is_dir():
            found = sorted(
                p
                for p in root.iterdir()
                if p.is_dir() and not p.is_symlink() and any(p.glob(RUN_FILE_GLOB))
            )
            if found:
                return found
    return []


def read_run(folder: Path) -> WandbRun:
    """The run recorded in ``folder``'s run file."""
    run_file = sorted(folder.glob(RUN_FILE_GLOB))[0]
    run = WandbRun(folder, id=run_file.stem.removeprefix("run-"))
    try:
        for record in read_records(run_file):
            _read_record(run, record)
    except SourceError as exc:
        run.error = exc
    except ValueError as exc:  # a value that is not JSON
        run.error = SourceError(f"{run_file.name}: a value does not parse: {exc}")
    return run


def _read_record(run: WandbRun, record: Any) -> None:
    kind = record.WhichOneof("record_type")
    if kind == "run":
        _read_run_record(run, record.run)
    elif kind == "config":
        _apply(run.config, record.config)
    elif kind == "summary":
        _apply(run.summary, record.summary)
    elif kind == "history":
        _read_history(run, record.history)
    elif kind == "exit":
        run.exit_code, run.runtime = int(record.exit.exit_code), float(record.exit.runtime)


def _read_run_record(run: WandbRun, record: Any) -> None:
    run.id = record.run_id or run.id
    run.project = record.project or run.project
    run.name = record.display_name or run.name
    run.notes = record.notes or run.notes
    run.tags = list(record.tags) or run.tags
    if record.HasField("start_time"):
        run.started = record.start_time.seconds + record.start_time.nanos / 1e9
    _apply(run.config, record.config)


def _key(item: Any) -> str:
    return str(item.key) if item.key else "/".join(item.nested_key)


def _apply(values: dict[str, Any], record: Any) -> None:
    """A config or summary record's updates and removals."""
    for item in record.update:
        values[_key(item)] = json.loads(item.value_json)
    for item in record.remove:
        values.pop(_key(item), None)


def _read_history(run: WandbRun, record: Any) -> None:
    row = {_key(item): json.loads(item.value_json) for item in record.item}
    step = row.get("_step", record.step.num)
    when = row.get("_timestamp")
    if isinstance(when, (int, float)):
        run.last_time = float(when)
    for key, value in row.items():
        if key.startswith("_") or not _is_number(value):
            continue  # W&B's own columns; media, tables and text are not scalars
        series = run.history.setdefault(key, Series())
        series.steps.append(int(step))
        series.values.append(float(value))
        series.times.append(run.last_time or run.started or 0.0)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def split_key(key: str) -> tuple[str, str]:
    """``train/loss`` -> (``train``, ``loss``); ``acc`` -> (``acc``, ``acc``)."""
    title, sep, series = key.rpartition("/")
    return (title, series) if sep and title and series else (key, key)


def _body(run: WandbRun) -> dict[str, Any]:
    config = {k: v for k, v in run.config.items() if not k.startswith("_wandb")}
    params = section_bodies(config)
    return {
        "name": (run.name or run.id)[:255],
        "project": run.project or "Default",
        "comment": run.notes[:4000],
        "tags": list(dict.fromkeys(run.tags)),
        "hyperparameters": {PARAMS_SECTION: params} if params else {},
    }


def _write_run(run: WandbRun, writer: RunWriter) -> RunEnd:
    if run.error is not None:
        raise run.error
    for key in sorted(run.history):
        series = run.history[key]
        title, name = split_key(key)
        writer.scalars(title, name, series.steps, series.values, series.times)
    ended = _ended(run)
    for key, value in sorted(run.summary.items()):
        if not key.startswith("_") and _is_number(value):
            writer.scalars(SUMMARY_METRIC, key, [0], [float(value)], [ended or run.started or 0.0])
    for path, name in _files(run.folder / "files"):
        writer.artifact(name, path)
    if run.exit_code is None:
        return RunEnd("stopped", run.started, ended, "the run file has no end (killed?)")
    if run.exit_code != 0:
        return RunEnd("failed", run.started, ended, f"exit code {run.exit_code}")
    return RunEnd("completed", run.started, ended)


def _ended(run: WandbRun) -> float | None:
    if run.started is not None and run.runtime:
        return run.started + run.runtime
    return run.last_time


def _files(root: Path) -> Iterator[tuple[Path, str]]:
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            yield path, path.relative_to(root).as_posix().replace("/", ".")
