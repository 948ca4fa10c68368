"""``tunelab import neptune PATH``: runs exported from neptune.ai by ``neptune-exporter``.

neptune-exporter (github.com/neptune-ai/neptune-exporter, Neptune's own tool for leaving its
hosted service) writes each run as Parquet files, laid out as its README ("Parquet schema",
"Export flow"), ``src/neptune_exporter/model.py::SCHEMA`` and its ``storage/parquet_writer.py``
and ``parquet_reader.py`` describe (as of its commit 8d3f44a, February 2026):

- ``<data>/<project dir>/<run>_part_<n>.parquet``: one row per value, with the columns
  ``project_id``, ``run_id``, ``attribute_path``, ``attribute_type`` (``float``, ``int``,
  ``string``, ``bool``, ``datetime``, ``string_set``, ``float_series``, ``string_series``,
  ``histogram_series``, ``file``, ``file_series``, ``file_set``), ``step`` (decimal(18,6)),
  ``timestamp``, one value column per type (``int_value``, ``float_value``, ...) and
  ``file_value.path``. A run is whole once its ``part_0.parquet`` exists (the exporter
  renames that part last), so runs still being exported are left out;
- ``<files>/<project dir>/<file_value.path>``: the files, under the same project folder
  (the exporter's defaults are ``exports/data`` and ``exports/files``).

PATH is the data folder, or one project folder in it. Each run becomes a task:

- project and name: the Neptune project (``workspace/project``) and ``sys/name`` (else the
  run's id); ``sys/tags`` the tags, ``sys/description`` the comment, ``sys/creation_time``
  the start, ``sys/failed`` a failed run; other ``sys/`` fields user properties;
- every other single value: the hyperparameter section ``neptune``, named by its path and
  typed (``int``, ``float``, ``bool``, ``str``; a datetime as ISO text, a string set as a
  JSON list);
- float series: scalars with their steps and times, the path split on its last ``/``
  (``metrics/loss``: ``metrics`` / ``loss``). Neptune steps may be fractional: a run whose
  steps are not all whole has them all multiplied by the smallest power of ten that makes
  them so (the user property ``neptune_step_multiplier`` says by how much);
- string series: console lines (``.../stdout`` and ``.../stderr`` as those streams, others
  as ``path: text``);
- files as artifacts (named by their path, ``/`` written as ``.``; a file set as a zip) and
  file series as debug samples, where the export holds them. Histograms are not imported.

Reading needs pyarrow (``pip install 'tunelab[neptune]'``). The exporter itself needs a
Neptune account.

Example::

    summary = import_export(client, Path("exports/data"))
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from tunelab.errors import InvalidInput
from tunelab.importers.progress import ImportProgress, Summary
from tunelab.importers.runs import RunEnd, RunPlan, SourceError, import_runs
from tunelab.importers.wandb import split_key
from tunelab.importers.writer import RunWriter
from tunelab.sdk.transport import ApiClient

PARAMS_SECTION = "neptune"
FIRST_PART = "_part_0.parquet"
STEP_MULTIPLIER = "neptune_step_multiplier"
_SINGLE = {"float", "int", "string", "bool", "datetime", "string_set"}
Points = np.ndarray[Any, Any]
_SYS_USED = {"sys/name", "sys/tags", "sys/description", "sys/creation_time", "sys/failed"}


@dataclass(frozen=True)
class ExportedRun:
    """One run's part files and the folder its files are in."""

    prefix: str  # the file name before _part_<n>.parquet
    parts: tuple[Path, ...]
    files: Path


def import_export(
    client: ApiClient,
    path: Path,
    files: Path | None = None,
    progress: ImportProgress | None = None,
) -> Summary:
    """Import every exported run at ``path`` not imported yet; ``files``: the exporter's
    files folder (default: ``files`` beside the data folder)."""
    _pyarrow()
    runs = find_runs(Path(path).expanduser(), files)
    if not runs:
        raise InvalidInput(f"no neptune-exporter run (a *{FIRST_PART}) at {path}")
    read: dict[str, RunData] = {}

    def data_of(run: ExportedRun) -> RunData:
        if run.prefix not in read:
            read.clear()  # one run in memory at a time
            read[run.prefix] = read_run(run)
        return read[run.prefix]

    def plan(run: ExportedRun) -> RunPlan:
        data = data_of(run)
        if data.ids is None:  # nothing readable: the run is reported failed by ``write``
            return RunPlan(f"neptune:{run.prefix}", run.prefix, {"name": run.prefix[:255]})
        project, run_id = data.ids
        body = _body(project, run_id, data)
        return RunPlan(f"neptune:{project}/{run_id}", f"{project}/{body['name']}", body)

    def write(run: ExportedRun, writer: RunWriter) -> RunEnd:
        data = data_of(run)
        if data.error is not None:
            raise data.error
        return _write_run(run, data, writer)

    return import_runs(client, runs, plan=plan, write=write, progress=progress)


def _pyarrow() -> Any:
    try:
        import pyarrow.compute  # type: ignore[import-untyped]
        import pyarrow.parquet  # type: ignore[import-untyped]
    except ImportError:
        raise InvalidInput(
            "importing a Neptune export needs pyarrow: pip install pyarrow"
        ) from None
    return pyarrow


def find_runs(path: Path, files: Path | None = None) -> list[ExportedRun]:
    """The whole runs at ``path`` (the data folder, or one project folder of it)."""
    if any(path.glob(f"*{FIRST_PART}")):
        projects = [path]
        data_root = path.parent
    else:
        projects = sorted(p for p in path.iterdir() if p.is_dir() and any(p.glob(f"*{FIRST_PART}")))
        data_root = path
    files_root = files if files is not None else data_root.parent / "files"
    found = []
    for project in projects:
        for first in sorted(project.glob(f"*{FIRST_PART}")):
            prefix = first.name.removesuffix(FIRST_PART)
            parts = sorted(
                project.glob(f"{prefix}_part_*.parquet"),
                key=lambda p: int(p.name.removesuffix(".parquet").rpartition("_")[2]),
            )
            found.append(ExportedRun(prefix, tuple(parts), files_root / project.name))
    return found


@dataclass
class RunData:
    """One run's rows: the float series' points as arrays (most of an export), every
    other row as a dict; and what stopped the reading (what was read before it is kept:
    the task's name and project)."""

    ids: tuple[str, str] | None = None  # project, run
    rows: list[dict[str, Any]] = field(default_factory=list)
    # path -> chunks of (steps, values, times), in the order written
    series: dict[str, list[tuple[Points, Points, Points]]] = field(default_factory=dict)
    error: SourceError | None = None


def read_run(run: ExportedRun) -> RunData:
    """The rows of all the run's parts."""
    pa = _pyarrow()
    data = RunData()
    for part in run.parts:
        try:
            table = pa.parquet.read_table(part)
        except Exception as exc:  # pyarrow's errors for a damaged or foreign file
            data.error = SourceError(f"{part.name}: cannot be read: {exc}")
            return data
        if data.ids is None and table.num_rows:
            data.ids = (str(table["project_id"][0]), str(table["run_id"][0]))
        is_point = pa.compute.equal(table["attribute_type"], "float_series")
        data.rows.extend(table.filter(pa.compute.invert(is_point)).to_pylist())
        points = table.filter(pa.compute.and_(is_point, pa.compute.is_valid(table["float_value"])))
        if points.num_rows:
            _add_points(data.series, points, pa)
    if data.ids is None:
        data.error = SourceError(f"{run.prefix}: the export holds no rows")
    return data


def _add_points(
    series: dict[str, list[tuple[Points, Points, Points]]], points: Any, pa: Any
) -> None:
    paths = points["attribute_path"].combine_chunks().dictionary_encode()
    codes = paths.indices.to_numpy(zero_copy_only=False)
    steps = np.nan_to_num(points["step"].cast(pa.float64()).to_numpy(zero_copy_only=False))
    values = points["float_value"].to_numpy(zero_copy_only=False)
    millis = points["timestamp"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    times = np.nan_to_num(millis.astype("f8")) / 1000
    for code, path in enumerate(paths.dictionary.to_pylist()):
        mask = codes == code
        series.setdefault(str(path), []).append((steps[mask], values[mask], times[mask]))


def _body(project: str, run_id: str, data: RunData) -> dict[str, Any]:
    rows = data.rows
    sys_values = {
        r["attribute_path"]: _value(r)
        for r in rows
        if r["attribute_type"] in _SINGLE and r["attribute_path"].startswith("sys/")
    }
    params = {
        str(r["attribute_path"]): _param(r)
        for r in rows
        if r["attribute_type"] in _SINGLE and not r["attribute_path"].startswith("sys/")
    }
    props = {
        path: {"value": _text(value), "type": "str"}
        for path, value in sorted(sys_values.items())
        if path not in _SYS_USED
    }
    multiplier = _step_multiplier(data)
    if multiplier != 1:
        props[STEP_MULTIPLIER] = {"value": str(multiplier), "type": "int"}
    return {
        "name": str(sys_values.get("sys/name") or run_id)[:255],
        "project": project,
        "comment": str(sys_values.get("sys/description") or "")[:4000],
        "tags": sorted(sys_values.get("sys/tags") or []),
        "hyperparameters": {PARAMS_SECTION: dict(sorted(params.items()))} if params else {},
        "user_properties": props,
    }


def _value(row: dict[str, Any]) -> Any:
    kind = row["attribute_type"]
    column = "string_set_value" if kind == "string_set" else f"{kind}_value"
    return row[column]


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def _param(row: dict[str, Any]) -> dict[str, str]:
    types = {"float": "float", "int": "int", "bool": "bool", "string_set": "list"}
    return {"value": _text(_value(row)), "type": types.get(row["attribute_type"], "str")}


def _write_run(run: ExportedRun, data: RunData, writer: RunWriter) -> RunEnd:
    multiplier = _step_multiplier(data)
    last = 0.0
    for path in sorted(data.series):
        chunks = data.series[path]
        steps, values, times = (np.concatenate([c[i] for c in chunks]) for i in range(3))
        title, name = split_key(path)
        writer.scalars(title, name, np.rint(steps * multiplier).astype("i8"), values, times)
        last = max(last, float(times.max(initial=0.0)))
    for row in data.rows:
        if row["attribute_type"] == "string_series" and row["string_value"] is not None:
            path = str(row["attribute_path"])
            _console(writer, path, str(row["string_value"]), row["timestamp"])
    _write_files(run, data.rows, writer, multiplier)
    rows = data.rows
    sys_values = {r["attribute_path"]: _value(r) for r in rows if r["attribute_type"] in _SINGLE}
    started = sys_values.get("sys/creation_time")
    stamps = [r["timestamp"].timestamp() for r in rows if r["timestamp"] is not None]
    ended = max([last, *stamps])
    return RunEnd(
        "failed" if sys_values.get("sys/failed") else "completed",
        started=started.timestamp() if isinstance(started, datetime) else None,
        completed=ended or None,
    )


def _step_multiplier(data: RunData) -> int:
    """The smallest power of ten that makes every step of the run whole (steps are
    decimal(18,6): 10**6 at most)."""
    arrays = [chunk[0] for chunks in data.series.values() for chunk in chunks]
    arrays.append(np.array([float(r["step"]) for r in data.rows if r["step"] is not None]))
    steps = np.concatenate(arrays)
    for power in range(6):
        scaled = steps * 10**power
        # A fractional step of 6 decimals is 10**(power-6) away from a whole number at
        # least; float rounding is far below that.
        if np.all(np.abs(scaled - np.rint(scaled)) < 0.5 * 10.0 ** (power - 6)):
            return int(10**power)
    return 10**6


def _step(step: Decimal | None, multiplier: int) -> int:
    return int(Decimal(step or 0) * multiplier)


def _console(writer: RunWriter, path: str, text: str, when: datetime | None) -> None:
    stream = path.rpartition("/")[2]
    ts = when.timestamp() if when is not None else None
    if stream in ("stdout", "stderr"):
        writer.console(text, ts=ts, stream=stream)
    else:
        writer.console(f"{path}: {text}", ts=ts)


def _write_files(
    run: ExportedRun, rows: list[dict[str, Any]], writer: RunWriter, multiplier: int
) -> None:
    for row in rows:
        kind, path = row["attribute_type"], str(row["attribute_path"])
        relative = (row.get("file_value") or {}).get("path")
        if kind not in ("file", "file_set", "file_series", "artifact") or not relative:
            continue
        local = run.files / relative
        if not local.exists():
            continue  # exported without its files
        name = path.replace("/", ".")
        if kind == "file_series" and local.is_file():
            title, series = split_key(path)
            writer.debug_sample(title, series, _step(row["step"], multiplier), local, local.name)
        elif local.is_file():
            writer.artifact(name, local)
        elif local.is_dir():
            with tempfile.TemporaryDirectory(prefix="tunelab-neptune-") as scratch:
                archive = shutil.make_archive(str(Path(scratch) / name), "zip", local)
                writer.artifact(name, Path(archive), type="folder")
