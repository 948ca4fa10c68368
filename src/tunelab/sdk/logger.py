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
    logger.report_surface("landscape", "val", matrix=[[1, 2], [3, 4]], zaxis="loss")
    logger.report_plotly("custom", "val", figure=plotly_figure)   # a Figure or its dict
    logger.report_image("masks", "val", iteration=99, image=mask)   # numpy array or PIL image
    logger.report_media("speech", "val", iteration=99, local_path="clip.wav")
    logger.report_text("done")

Surfaces, 3D scatter plots, line plots and plotly figures are stored as plotly.js figures;
a matplotlib figure becomes one too when it holds only lines, markers and bars (else a PNG).

The plot methods check their data at the call (ValueError or TypeError naming the plot) and
return at once; the same title, series and iteration reported again replaces the plot.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from tunelab.domain.storable_text import storable_text
from tunelab.errors import InvalidInput
from tunelab.sdk import plot_data, plotly_data
from tunelab.sdk.debug_samples import DebugSamples

# report_single_value lands here, as ClearML users know it.
SUMMARY_METRIC = "Summary"


class ReportScalar(Protocol):
    def __call__(self, title: str, series: str, value: float, iteration: int) -> None:
        """Record one point of the ``title``/``series`` curve; returns at once."""


class Logger:
    SeriesInfo = plotly_data.SeriesInfo  # ``Logger.SeriesInfo(name, data, labels)``, as ClearML
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
        debug_samples: Callable[[], DebugSamples] | None = None,
    ) -> None:
        self._debug_samples = debug_samples
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

    def report_text(self, msg: str, print_console: bool = True) -> None:
        """A line in the task's console (and on the local terminal, unless
        ``print_console`` is False)."""
        text = storable_text(msg)  # what the console keeps (no NUL, no half surrogate pair)
        if print_console:
            out = self._echo()
            try:
                out.write(text + "\n")
            except UnicodeEncodeError:  # a terminal that cannot show it gets escapes
                out.write(text.encode("ascii", "backslashreplace").decode("ascii") + "\n")
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
        iteration: int | None = 0,
        xaxis: str | None = None,
        yaxis: str | None = None,
        labels: Sequence[str] | None = None,
        mode: str = "lines",
        comment: str | None = None,
        extra_layout: Mapping[str, Any] | None = None,
    ) -> None:
        """Points: (x, y) pairs or an Nx2 array; ``mode`` is ``lines``, ``markers`` or
        ``lines+markers``; ``labels`` names each point. With a ``comment`` (shown above the
        plot) or an ``extra_layout`` (plotly layout settings) it is stored as a plotly figure."""
        if comment or extra_layout:
            plot = plotly_data.scatter2d(
                title, series, scatter, iteration, xaxis, yaxis, labels, mode, comment, extra_layout
            )
        else:
            plot = plot_data.scatter2d(
                title, series, scatter, iteration or 0, xaxis, yaxis, labels, mode
            )
        self._add_plot(plot)

    def report_scatter3d(
        self,
        title: str,
        series: str,
        scatter: Any,
        iteration: int | None = None,
        xaxis: str | None = None,
        yaxis: str | None = None,
        zaxis: str | None = None,
        labels: Sequence[str] | None = None,
        mode: str = "markers",
        fill: bool = False,
        comment: str | None = None,
        extra_layout: Mapping[str, Any] | None = None,
    ) -> None:
        """Points in 3D: (x, y, z) triples or an Nx3 array, or a list of those (a series
        each); ``mode`` as for ``report_scatter2d``; ``fill`` shades the area under them."""
        self._add_plot(
            plotly_data.scatter3d(
                title,
                series,
                scatter,
                iteration,
                xaxis,
                yaxis,
                zaxis,
                labels,
                mode,
                fill,
                comment,
                extra_layout,
            )
        )

    def report_line_plot(
        self,
        title: str,
        series: Sequence[plotly_data.SeriesInfo | Mapping[str, Any]],
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
        self._add_plot(
            plotly_data.line_plot(
                title, series, xaxis, yaxis, mode, iteration, reverse_xaxis, comment, extra_layout
            )
        )

    def report_surface(
        self,
        title: str,
        series: str,
        matrix: Any,
        iteration: int | None = None,
        xaxis: str | None = None,
        yaxis: str | None = None,
        zaxis: str | None = None,
        xlabels: Sequence[str] | None = None,
        ylabels: Sequence[str] | None = None,
        camera: Sequence[float] | None = None,
        comment: str | None = None,
        extra_layout: Mapping[str, Any] | None = None,
    ) -> None:
        """A matrix of heights as a 3D surface (``ylabels`` names the rows, ``xlabels`` the
        columns; ``camera`` is the eye's (x, y, z))."""
        self._add_plot(
            plotly_data.surface(
                title,
                series,
                matrix,
                iteration,
                xaxis,
                yaxis,
                zaxis,
                xlabels,
                ylabels,
                camera,
                comment,
                extra_layout,
            )
        )

    def report_plotly(
        self, title: str, series: str, figure: Any, iteration: int | None = None
    ) -> None:
        """A plotly figure as it is: a ``plotly.graph_objects.Figure`` or its dict
        (``{"data": [traces], "layout": {...}}``)."""
        self._add_plot(plotly_data.plotly(title, series, figure, iteration))

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
        yaxis_reversed: bool = False,
    ) -> None:
        """A matrix of numbers shown as a colour-scaled grid (``ylabels`` names the rows,
        ``xlabels`` the columns); row 0 at the bottom, at the top with ``yaxis_reversed``."""
        self._add_plot(
            plot_data.confusion_matrix(
                title, series, matrix, iteration, xaxis, yaxis, xlabels, ylabels, yaxis_reversed
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
        self,
        title: str,
        series: str,
        figure: Any,
        iteration: int | None = None,
        report_image: bool = False,
        report_interactive: bool = True,
    ) -> None:
        """A matplotlib figure (or ``matplotlib.pyplot`` itself, its current figure): a
        plotly figure when it holds only lines, markers and bars and ``report_interactive``
        is on, else a PNG image; with ``report_image``, a PNG debug sample (as ClearML)."""
        plot = figure_plot(
            title, series, figure, iteration or 0, report_image, report_interactive
        )  # fmt: skip
        if report_image:
            from PIL import Image

            png = base64.b64decode(plot["data"]["base64"])
            self.report_image(title, series, iteration, image=Image.open(io.BytesIO(png)))
            return
        self._add_plot(plot)

    def report_image(
        self,
        title: str,
        series: str,
        iteration: int | None = None,
        local_path: str | Path | None = None,
        image: Any = None,
        matrix: Any = None,
        max_image_history: int | None = None,
        delete_after_upload: bool = False,
        url: str | None = None,
    ) -> None:
        """A debug image: a numpy array (HxW gray, HxWx3 RGB, HxWx4 RGBA; uint8, or floats
        in 0..1), a PIL image, a local file (``local_path``) or a URL (recorded, not
        fetched). ``matrix`` is ClearML's older name for ``image``. Arrays and PIL images
        need Pillow (``tunelab[media]``). Only the newest ``max_image_history`` iterations
        of the series are kept."""
        self._samples().report_image(
            title,
            series,
            iteration,
            local_path,
            image if image is not None else matrix,
            max_image_history,
            delete_after_upload,
            url,
        )

    def report_media(
        self,
        title: str,
        series: str,
        iteration: int | None = None,
        local_path: str | Path | None = None,
        stream: Any = None,
        url: str | None = None,
        file_extension: str | None = None,
        max_history: int | None = None,
        delete_after_upload: bool = False,
    ) -> None:
        """Any file as a debug sample: audio and video play in the page, HTML opens in a
        sandbox, anything else downloads. A local file, a binary or text ``stream``
        (``file_extension`` names its type, e.g. ``".wav"``) or a URL."""
        self._samples().report_media(
            title,
            series,
            iteration,
            local_path,
            stream,
            url,
            file_extension,
            max_history,
            delete_after_upload,
        )

    def _samples(self) -> DebugSamples:
        if self._debug_samples is None:
            raise InvalidInput("this logger cannot report debug samples")
        return self._debug_samples()

    def flush(self) -> None:
        """Kept for ClearML compatibility; sending happens in the background."""


def figure_plot(
    title: str,
    series: str,
    figure: Any,
    iteration: int,
    report_image: bool = False,
    report_interactive: bool = True,
) -> dict[str, Any]:
    """A matplotlib figure as a plot: converted to plotly when it converts, else a PNG."""
    if callable(getattr(figure, "gcf", None)):  # pyplot: its current figure
        figure = figure.gcf()
    if report_interactive and not report_image and callable(getattr(figure, "get_axes", None)):
        from tunelab.sdk.matplotlib_figures import to_plotly

        converted = to_plotly(figure)
        if converted is not None:
            return plotly_data.plotly(title, series, converted, iteration)
    return plot_data.figure_png(title, series, figure, iteration)
