"""``task.get_logger()``: scalars, single values, text and plots, sent in the background.

Example::

    logger = task.get_logger()
    for i in range(100):
        logger.report_scalar("loss", "train", value=1 / (i + 1), iteration=i)
    logger.report_single_value("accuracy", 0.93)
    logger.report_histogram("errors", "val", values=[3, 9, 4], iteration=99)
    logger.report_scatter2d("pr", "val", scatter=[(0, 1), (0.5, 0.8), (1, 0.2)], mode="markers")
    logger.report_confusion_matrix("confusion", "val", matrix=[[50, 2], [4, 44]],
                                   xlabels=["cat", "dog"], ylabels=["cat", "dog"])
    logger.report_table("scores", "val", table_plot=[["class", "f1"], ["cat", 0.91]])
    logger.report_text("done")

The plot methods check their data at the call (ValueError or TypeError naming the plot) and
return at once; the same title, series and iteration reported again replaces the plot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from tunelab.sdk import plot_data

# report_single_value lands here, as ClearML users know it.
SUMMARY_METRIC = "Summary"


class ReportScalar(Protocol):
    def __call__(self, title: str, series: str, value: float, iteration: int) -> None:
        """Record one point of the ``title``/``series`` curve; returns at once."""


class Logger:
    # ``report_scalar(title, series, value, iteration)`` records one point of a curve and
    # returns at once. It is the reporter's own bound method, not a method of this class: it
    # is the training loop's hot path, and a wrapper's extra Python frame cost about 15 % of
    # each call.
    report_scalar: ReportScalar

    def __init__(
        self,
        add_scalar: ReportScalar,
        add_console: Callable[[str, str], None],
        echo: Callable[[], TextIO],
        add_plot: Callable[[dict[str, Any]], None],
    ) -> None:
        self.report_scalar = add_scalar
        self._add_scalar = add_scalar
        self._add_console = add_console
        self._echo = echo
        self._add_plot = add_plot

    @classmethod
    def current_logger(cls) -> Logger | None:
        """The logger of the task ``Task.init`` started in this process; None before it."""
        from tunelab.sdk.task import Task  # that module builds on this one

        task = Task.current_task()
        return None if task is None else task.get_logger()

    def report_single_value(self, name: str, value: float) -> None:
        """A single number for the run (a final accuracy, a test score)."""
        self._add_scalar(SUMMARY_METRIC, name, float(value), 0)

    def report_text(self, msg: str) -> None:
        """A line in the task's console (and on the local terminal)."""
        text = str(msg)
        out = self._echo()
        out.write(text + "\n")
        out.flush()
        for line in text.split("\n"):
            self._add_console("log", line)

    def report_histogram(
        self,
        title: str,
        series: str,
        values: Any,
        iteration: int = 0,
        labels: Sequence[str] | None = None,
        xlabels: Sequence[str] | None = None,
        xaxis: str | None = None,
        yaxis: str | None = None,
    ) -> None:
        """Bars: one height per bin, or rows of bins with a column per bar group (``labels``
        names the groups, ``xlabels`` the bins). A list or a NumPy array."""
        self._add_plot(
            plot_data.histogram(title, series, values, iteration, labels, xlabels, xaxis, yaxis)
        )

    def report_scatter2d(
        self,
        title: str,
        series: str,
        scatter: Any,
        iteration: int = 0,
        xaxis: str | None = None,
        yaxis: str | None = None,
        labels: Sequence[str] | None = None,
        mode: str = "lines",
    ) -> None:
        """Points: (x, y) pairs or an Nx2 array; ``mode`` is ``lines``, ``markers`` or
        ``lines+markers``; ``labels`` names each point."""
        self._add_plot(
            plot_data.scatter2d(title, series, scatter, iteration, xaxis, yaxis, labels, mode)
        )

    def report_confusion_matrix(
        self,
        title: str,
        series: str,
        matrix: Any,
        iteration: int = 0,
        xaxis: str | None = None,
        yaxis: str | None = None,
        xlabels: Sequence[str] | None = None,
        ylabels: Sequence[str] | None = None,
    ) -> None:
        """A matrix of numbers shown as a colour-scaled grid (``ylabels`` names the rows,
        ``xlabels`` the columns)."""
        self._add_plot(
            plot_data.confusion_matrix(
                title, series, matrix, iteration, xaxis, yaxis, xlabels, ylabels
            )
        )

    def report_table(
        self,
        title: str,
        series: str,
        iteration: int = 0,
        table_plot: Any = None,
        csv: str | Path | None = None,
        url: str | None = None,
    ) -> None:
        """A table: a pandas DataFrame or a list of rows whose first row is the header
        (``table_plot``), a local CSV file (``csv``) or a CSV file at a URL (``url``)."""
        self._add_plot(plot_data.table(title, series, iteration, table_plot, csv, url))

    def report_matplotlib_figure(
        self, title: str, series: str, figure: Any, iteration: int = 0
    ) -> None:
        """A matplotlib figure (or ``matplotlib.pyplot`` itself), stored as a PNG image."""
        self._add_plot(plot_data.figure_png(title, series, figure, iteration))

    def flush(self) -> None:
        """Kept for ClearML compatibility; sending happens in the background."""
