"""Metrics reported on a model itself, as ClearML's ``OutputModel`` reports them: shown on the
model's page and read back with ``model.get_reports()`` or ``GET /api/v1/models/{id}/reports``.

Example::

    model = OutputModel(task, name="resnet")
    model.report_scalar("loss", "val", value=0.25, iteration=3)
    model.report_single_value("accuracy", 0.93)
    model.report_table("confusion", "val", iteration=3, table_plot=df)
    model.report_line_plot("roc", [Logger.SeriesInfo("val", [(0, 0), (0.2, 0.8), (1, 1)])],
                           xaxis="fpr", yaxis="tpr")

Reports are kept and sent together: every ``BATCH`` reports, on ``task.flush()``, on
``get_reports()`` and at the end of the run.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunelab.errors import InvalidInput

# The title ClearML gives single values, on tasks and on models alike.
SINGLE_VALUE_TITLE = "Summary"
BATCH = 500


class ModelReporting:
    """Mixed into ``OutputModel``: ``report_*`` store on the model, not on its task."""

    _task: Any
    _client: Any
    _pending_reports: list[dict[str, Any]]
    _reports_lock: threading.Lock
    if TYPE_CHECKING:  # Model's property

        @property
        def id(self) -> str: ...

    def report_scalar(self, title: str, series: str, value: float, iteration: int) -> None:
        """One point of the curve ``title``/``series`` (reporting an iteration again replaces
        it)."""
        number = _number(f"scalar {title!r}/{series!r}", value)
        self._report(
            {
                "kind": "scalar",
                "title": str(title),
                "series": str(series),
                "value": number,
                "iteration": int(iteration),
            }
        )

    def report_single_value(self, name: str, value: float) -> None:
        """One number for the model (a test accuracy, a size), under the title "Summary"."""
        number = _number(f"single value {name!r}", value)
        self._report(
            {"kind": "single", "title": SINGLE_VALUE_TITLE, "series": str(name), "value": number}
        )

    def report_table(
        self,
        title: str,
        series: str,
        iteration: int | None = None,
        table_plot: Any = None,
        csv: str | Path | None = None,
        url: str | None = None,
        extra_layout: Mapping[str, Any] | None = None,
    ) -> None:
        """A table: a pandas DataFrame or a list of rows whose first row is the header
        (``table_plot``), a local CSV file (``csv``) or a CSV file at a URL (``url``).
        ``extra_layout`` is accepted for ClearML's signature; a table has no layout here."""
        from tunelab.sdk import plot_data

        try:
            plot = plot_data.table(title, series, iteration or 0, table_plot, csv, url)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(str(exc)) from None
        self._report_plot("table", plot)

    def report_line_plot(
        self,
        title: str,
        series: Sequence[Any],
        xaxis: str | None = None,
        yaxis: str | None = None,
        mode: str = "lines",
        iteration: int | None = None,
        reverse_xaxis: bool = False,
        comment: str | None = None,
        extra_layout: Mapping[str, Any] | None = None,
    ) -> None:
        """Several lines in one plot, one per ``Logger.SeriesInfo(name, data, labels)``
        (``data``: (x, y) pairs or an Nx2 array); stored under the series name ``plot``."""
        from tunelab.sdk import plotly_data

        try:
            plot = plotly_data.line_plot(
                title, series, xaxis, yaxis, mode, iteration, reverse_xaxis, comment, extra_layout
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInput(str(exc)) from None
        self._report_plot("line", plot)

    def get_reports(self) -> dict[str, Any]:
        """What the model has reported: ``scalars``, ``single_values`` and ``plots``."""
        self._send_reports()
        reports: dict[str, Any] = self._client.get_model_reports(self.id)
        return reports

    def _init_reports(self) -> None:
        self._pending_reports = []
        self._reports_lock = threading.Lock()
        self._task._on_flush(self._send_reports)

    def _send_reports(self) -> None:
        """Send the reports kept so far (the task's flush and the run's end come here)."""
        with self._reports_lock:
            pending, self._pending_reports = self._pending_reports, []
            if pending:
                self._client.add_model_reports(self.id, pending)

    def _report_plot(self, kind: str, plot: Mapping[str, Any]) -> None:
        self._report(
            {
                "kind": kind,
                "title": str(plot["title"]),
                "series": str(plot["series"]),
                "iteration": int(plot["iteration"]),
                "data": plot["data"],
            }
        )

    def _report(self, report: dict[str, Any]) -> None:
        with self._reports_lock:
            self._pending_reports.append(report)
            full = len(self._pending_reports) >= BATCH
        if full:
            self._send_reports()


def _number(what: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidInput(f"{what}: the value must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what}: the value must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{what}: the value must be finite, got {number!r}")
    return number
