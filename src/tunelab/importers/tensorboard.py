"""``tunelab import tensorboard LOGDIR``: each run folder of a TensorBoard log directory as a task.

A run is a folder holding event files (``events.out.tfevents.*``); the folders below it
that hold event files too (``add_scalars`` writes one per key, ``add_hparams`` one per call)
belong to it. Its events become what Tunelab's TensorBoard capture makes of them
(``tunelab.integrations.tensorboard``), named the same way:

- scalars: the curve ``title`` / ``series`` of the tag, at iteration = step, with the
  event's wall time;
- histograms: a ``histogram`` plot per step (every step, not a sample of them);
- images: debug samples (the PNG the writer encoded), one per step;
- text: console lines ``SUMMARY LOG: <tag> <text>``;
- ``add_hparams``: the section ``TB_hparams``, numbers, text and booleans typed.

The task is named after the run folder (relative to LOGDIR) and records the folder's full
path: importing the same LOGDIR again adds only new run folders.

Example::

    summary = import_logdir(client, Path("runs"), project="vision")
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.importers.progress import ImportProgress, Summary
from tunelab.importers.runs import RunEnd, RunPlan, SourceError, import_runs
from tunelab.importers.writer import RunWriter
from tunelab.integrations.tensorboard.events import HPARAMS_SECTION, TEXT_SUFFIX, histogram_bins
from tunelab.integrations.tensorboard.names import HISTOGRAM, IMAGE, SCALAR, Names
from tunelab.sdk.parameters import param_body
from tunelab.sdk.plot_data import histogram
from tunelab.sdk.transport import ApiClient

DEFAULT_PROJECT = "TensorBoard"
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
EVENT_FILE_MARK = "tfevents"


@dataclass(frozen=True)
class TbRun:
    """A run folder and the event files of it and of its sub-folders."""

    folder: Path
    name: str
    files: tuple[Path, ...]


def import_logdir(
    client: ApiClient,
    logdir: Path,
    project: str = DEFAULT_PROJECT,
    progress: ImportProgress | None = None,
) -> Summary:
    """Import every run folder under ``logdir`` not imported yet into ``project``."""
    logdir = Path(logdir).expanduser().resolve()
    if not logdir.is_dir():
        raise InvalidInput(f"{logdir} is not a folder")
    runs = find_runs(logdir)
    if not runs:
        raise InvalidInput(f"no TensorBoard event file (*{EVENT_FILE_MARK}*) under {logdir}")

    def plan(run: TbRun) -> RunPlan:
        body = {"name": run.name, "project": project, "comment": f"imported from {run.folder}"}
        return RunPlan(f"tensorboard:{run.folder}", run.name, body)

    return import_runs(client, runs, plan=plan, write=write_run, progress=progress)


def find_runs(logdir: Path) -> list[TbRun]:
    """The run folders under ``logdir`` (itself included), each with its event files."""
    holding: dict[Path, list[Path]] = {}
    for walked, _dirs, names in os.walk(logdir):
        events = sorted(Path(walked) / n for n in names if EVENT_FILE_MARK in n)
        if events:
            holding[Path(walked)] = events
    runs: list[TbRun] = []
    for folder in sorted(holding):
        if any(parent in holding for parent in folder.parents):
            continue  # part of the run above it
        files = [f for below, fs in holding.items() if below.is_relative_to(folder) for f in fs]
        name = str(folder.relative_to(logdir)) if folder != logdir else logdir.name
        runs.append(TbRun(folder, name, tuple(sorted(files))))
    return runs


def write_run(run: TbRun, writer: RunWriter) -> RunEnd:
    """Send one run's events; ``RunEnd`` spans its first and last event."""
    reader = _RunReader(run.folder, writer)
    for path in run.files:
        reader.read(path)
    return reader.finish()


class _RunReader:
    def __init__(self, folder: Path, writer: RunWriter) -> None:
        self._folder = folder
        self._writer = writer
        self._names = Names()
        self._series: dict[tuple[str, str], tuple[list[int], list[float], list[float]]] = {}
        # (log directory, tag) -> the columns of its graph in _series
        self._columns: dict[tuple[str, str], tuple[list[int], list[float], list[float]]] = {}
        self._hparams: dict[str, Any] = {}
        self._first: float | None = None
        self._last: float | None = None

    def read(self, path: Path) -> None:
        from tensorboard.compat.proto.event_pb2 import Event  # type: ignore[import-untyped]

        below = path.parent.relative_to(self._folder).as_posix()
        logdir = "" if below == "." else below
        try:
            for record in _records(path):
                self._event(Event.FromString(record), logdir)
        except (OSError, ValueError) as exc:  # DecodeError is a ValueError
            raise SourceError(f"{path}: cannot read its events: {exc}") from exc

    def _event(self, event: Any, logdir: str) -> None:
        stamp = float(event.wall_time)
        if self._first is None or stamp < self._first:
            self._first = stamp
        if self._last is None or stamp > self._last:
            self._last = stamp
        if not event.HasField("summary"):
            return
        step = int(event.step)
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if value.metadata.plugin_data.plugin_name == "hparams":
                # add_hparams' session start: its values ride in the metadata alone.
                self._hparams.update(_hparams(value.metadata.plugin_data.content))
            elif kind == "simple_value":
                self._scalar(logdir, value.tag, step, value.simple_value, stamp)
            elif kind == "histo":
                self._histogram(logdir, value.tag, step, value.histo)
            elif kind == "image":
                title, series = self._names.of(IMAGE, logdir, value.tag)
                data = value.image.encoded_image_string
                self._writer.debug_sample(title, series, step, data, "image.png")
            elif kind == "tensor":
                self._tensor(logdir, value, step, stamp)

    def _scalar(self, logdir: str, tag: str, step: int, value: float, stamp: float) -> None:
        columns = self._columns.get((logdir, tag))  # the hot path: a tag seen before
        if columns is None:
            columns = self._columns[(logdir, tag)] = self._new_series(logdir, tag)
        columns[0].append(step)
        columns[1].append(value)
        columns[2].append(stamp)

    def _new_series(self, logdir: str, tag: str) -> tuple[list[int], list[float], list[float]]:
        key: str | None = None
        # add_scalars("loss", {"train": ...}) writes the tag "loss" into the folder
        # "loss_train" below the run's: the key is the series, as the capture names it.
        prefix = tag.replace("/", "_") + "_"
        if logdir and "/" not in logdir and logdir.startswith(prefix):
            key, logdir = logdir[len(prefix) :], ""
        graph = self._names.of(SCALAR, logdir, tag, key)
        return self._series.setdefault(graph, ([], [], []))

    def _histogram(self, logdir: str, tag: str, step: int, histo: Any) -> None:
        counts, labels = histogram_bins(histo)
        if counts:
            title, series = self._names.of(HISTOGRAM, logdir, tag)
            self._writer.plot(
                histogram(title, series, counts, iteration=step, xlabels=labels, yaxis="count")
            )

    def _tensor(self, logdir: str, value: Any, step: int, stamp: float) -> None:
        plugin = value.metadata.plugin_data.plugin_name
        if plugin == "scalars" and value.tensor.float_val:
            self._scalar(logdir, value.tag, step, value.tensor.float_val[0], stamp)
        elif plugin == "scalars" and value.tensor.double_val:
            self._scalar(logdir, value.tag, step, value.tensor.double_val[0], stamp)
        elif plugin == "text":
            text = "\n".join(s.decode("utf-8", "replace") for s in value.tensor.string_val)
            tag = value.tag.removesuffix(TEXT_SUFFIX)
            self._writer.console(f"SUMMARY LOG: {tag} {text}", ts=stamp)

    def finish(self) -> RunEnd:
        for (title, series), (steps, values, stamps) in self._series.items():
            self._writer.scalars(title, series, steps, values, stamps)
        if self._hparams:
            section = {name: param_body(v) for name, v in sorted(self._hparams.items())}
            self._writer.hyperparameters({HPARAMS_SECTION: section})
        return RunEnd("completed", started=self._first, completed=self._last)


def _records(path: Path) -> Iterator[bytes]:
    """The records of a TFRecord file: ``length (u64) | crc(length) (u32) | data |
    crc(data) (u32)``, the CRCs masked CRC-32C. TensorBoard's own reader, without
    TensorFlow, computes CRC-32C in Python (half the time of an import): here it is checked
    in C by ``google-crc32c`` where installed (the gcs extra brings it), else not checked
    (the protocol buffer's parse still refuses most damage). A record cut short (a writer
    still writing) ends the file, as in TensorBoard."""
    check = _crc_checker()
    with path.open("rb") as stream:
        while True:
            head = stream.read(12)
            if len(head) < 12:
                return
            (length,) = _LENGTH.unpack_from(head)
            if check is not None and not check(head[:8], head[8:12]):
                raise ValueError(f"damaged record length at byte {stream.tell() - 12}")
            data = stream.read(length)
            footer = stream.read(4)
            if len(data) < length or len(footer) < 4:
                return
            if check is not None and not check(data, footer):
                raise ValueError(f"damaged record at byte {stream.tell() - length - 4}")
            yield data


def _crc_checker() -> Callable[[bytes, bytes], bool] | None:
    try:
        import google_crc32c
    except ImportError:
        return None
    if google_crc32c.implementation != "c":
        return None  # its pure-Python fallback is as slow as TensorBoard's

    def check(data: bytes, masked: bytes) -> bool:
        crc = google_crc32c.value(data)
        mask = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
        return bool(_CRC.unpack(masked)[0] == mask)

    return check


def _hparams(content: bytes) -> Iterator[tuple[str, Any]]:
    """The values of an ``add_hparams`` session start: numbers (whole ones as int), text,
    booleans."""
    from tensorboard.plugins.hparams import plugin_data_pb2  # type: ignore[import-untyped]

    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    if not data.HasField("session_start_info"):
        return
    for name, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        if kind == "number_value":
            number = value.number_value
            yield name, int(number) if number.is_integer() else number
        elif kind == "string_value":
            yield name, value.string_value
        elif kind == "bool_value":
            yield name, value.bool_value
