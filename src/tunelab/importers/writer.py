"""One imported run's data written to its task: scalars, plots, console lines and files.

Scalars go the way the SDK's reporter sends them: whole series packed into binary frames
(``POST /tasks/{id}/scalars/frame``) of up to ``BATCH_POINTS`` points, so a run's million
points cost a handful of requests. Plots and console lines go in batches; files (debug
samples, artifacts) are stored in the server's file store under the task's folder, as the
SDK names them, and then recorded.

Example::

    writer = RunWriter(client, task, on_points=bar.update)
    writer.scalars("loss", "train", steps, values, times)
    writer.console("epoch 1 done", ts=1700000000.0)
    writer.artifact("weights", Path("model.pt"))
    writer.close()
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab.domain.debug_samples import kind_of, mime_for
from tunelab.sdk.transport import ApiClient

if TYPE_CHECKING:
    from tunelab.storage import StoredFile

# Points per scalar frame: ~12 MB on the wire, well inside the server's batch and body limits.
BATCH_POINTS = 500_000
PLOTS_PER_BATCH = 50
LINES_PER_BATCH = 1_000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class RunWriter:
    """Buffers one task's reports and sends them in large batches; ``close`` sends the rest.

    ``on_points(n)`` is told each time ``n`` scalar points were stored (the progress bar)."""

    def __init__(
        self,
        client: ApiClient,
        task: Mapping[str, Any],
        on_points: Callable[[int], None] | None = None,
    ) -> None:
        self._client = client
        self.task_id = str(task["id"])
        project = str((task.get("project") or {}).get("name") or "Default")
        folder = f"{_safe(str(task.get('name') or 'task'))}.{self.task_id}"
        self._folder = "/".join([*(_safe(p) for p in project.split("/") if p), folder])
        self._on_points = on_points or (lambda _n: None)
        self._series: list[dict[str, bytes | str]] = []
        self._pending = 0
        self._plots: list[dict[str, Any]] = []
        self._lines: list[dict[str, Any]] = []
        self.points = 0
        self.files = 0

    # ----- scalars ------------------------------------------------------------------------

    def scalars(
        self,
        metric: str,
        variant: str,
        iterations: Sequence[int] | np.ndarray[Any, Any],
        values: Sequence[float] | np.ndarray[Any, Any],
        timestamps: Sequence[float] | np.ndarray[Any, Any],
    ) -> None:
        """A series' points (any number: cut into frames as needed); times in seconds."""
        its = np.ascontiguousarray(iterations, dtype="<i8")
        vals = np.ascontiguousarray(values, dtype="<f8")
        stamps = np.ascontiguousarray(timestamps, dtype="<f8")
        if not len(its) == len(vals) == len(stamps):
            raise ValueError(f"{metric}/{variant}: iterations, values and times differ in length")
        start = 0
        while start < len(its):
            room = BATCH_POINTS - self._pending
            end = min(len(its), start + room)
            self._series.append(
                {
                    "metric": metric,
                    "variant": variant,
                    "iterations": its[start:end].tobytes(),
                    "values": vals[start:end].tobytes(),
                    "timestamps": stamps[start:end].tobytes(),
                }
            )
            self._pending += end - start
            start = end
            if self._pending >= BATCH_POINTS:
                self._send_scalars()

    def _send_scalars(self) -> None:
        if not self._series:
            return
        batch = {"batch_id": uuid.uuid4().hex, "series": self._series}
        self._client.post_scalars(self.task_id, batch)
        sent, self._series, self._pending = self._pending, [], 0
        self.points += sent
        self._on_points(sent)

    def hyperparameters(self, sections: Mapping[str, Mapping[str, Any]]) -> None:
        """``{"section": {"name": {"value", "type"}}}``, merged into the task's."""
        self._client.set_hyperparameters(self.task_id, sections)

    # ----- plots and console --------------------------------------------------------------

    def plot(self, plot: Mapping[str, Any]) -> None:
        """A plot as ``tunelab.domain.plots`` describes it."""
        self._plots.append(dict(plot))
        if len(self._plots) >= PLOTS_PER_BATCH:
            self._send_plots()

    def _send_plots(self) -> None:
        if self._plots:
            self._client.post_plots(self.task_id, self._plots, batch_id=uuid.uuid4().hex)
            self._plots = []

    def console(self, text: str, ts: float | None = None, stream: str = "log") -> None:
        line: dict[str, Any] = {"stream": stream, "text": text}
        if ts is not None:
            line["ts"] = ts
        self._lines.append(line)
        if len(self._lines) >= LINES_PER_BATCH:
            self._send_lines()

    def _send_lines(self) -> None:
        if self._lines:
            self._client.post_console(self.task_id, self._lines, batch_id=uuid.uuid4().hex)
            self._lines = []

    # ----- files --------------------------------------------------------------------------

    def debug_sample(
        self, title: str, series: str, iteration: int, data: bytes | Path, filename: str
    ) -> None:
        """A file shown under ``title``/``series`` at ``iteration`` (every one kept)."""
        name = f"{_safe(title)}_{_safe(series)}_{iteration:08d}{Path(filename).suffix}"
        stored = self.store_file(data, "metrics", _safe(title), _safe(series), name)
        mime = mime_for(filename)
        body = {
            "title": title,
            "series": series,
            "iteration": iteration,
            "kind": kind_of(mime),
            "mime": mime,
            "uri": stored.uri,
            "size": stored.size,
        }
        self._client.post_debug_sample(self.task_id, body)

    def artifact(
        self,
        name: str,
        path: Path,
        *,
        type: str = "file",
        metadata: Mapping[str, Any] | None = None,
        preview: str = "",
    ) -> None:
        """The file ``path`` stored and recorded as the artifact ``name``."""
        stored = self.store_file(path, "artifacts", _safe(name), path.name)
        body = {
            "type": type,
            "format": path.suffix.lstrip(".") or "file",
            "uri": stored.uri,
            "size": stored.size,
            "sha256": stored.sha256,
            "preview": preview[:1000],
            "metadata": dict(metadata or {}),
        }
        self._client.put_artifact(self.task_id, name, body)

    def store_file(self, data: bytes | Path, *parts: str) -> StoredFile:
        """``data`` (a file, or bytes) in the server's file store under the task's folder."""
        from tunelab.storage import StorageContext, upload

        ctx = StorageContext(server_url=self._client.base_url, server_token=self._client.token)
        uri = "tunelab://" + "/".join([self._folder, *parts])
        self.files += 1
        if isinstance(data, Path):
            return upload(data, uri, ctx)
        with tempfile.TemporaryDirectory(prefix="tunelab-import-") as scratch:
            local = Path(scratch) / parts[-1]
            local.write_bytes(data)
            return upload(local, uri, ctx)

    def close(self) -> None:
        """Send what is still buffered."""
        self._send_scalars()
        self._send_plots()
        self._send_lines()


def _safe(part: str) -> str:
    """A path component every storage back end accepts ("my run #3" -> "my_run_3")."""
    return _UNSAFE.sub("_", part).strip("._") or "_"
