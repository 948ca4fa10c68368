"""What ``Logger.report_histogram`` and friends send: the user's arrays as a checked plot.

Arrays may be lists, tuples or anything with ``tolist()`` (NumPy arrays, pandas Series); a
table may be a pandas DataFrame, a list of rows, or a CSV file. NumPy, pandas and matplotlib
are never imported here: an object that is one of theirs already brought its library along.
Every function raises ValueError (TypeError for a wrong type) naming the plot and the
problem, in the caller, before anything is queued.

Example::

    histogram("errors", "val", [1, 4, 2], iteration=3)
    # {"title": "errors", "series": "val", "iteration": 3, "kind": "histogram",
    #  "data": {"values": [[1, 4, 2]], "labels": None, "xlabels": None, "xaxis": "", ...}}
"""

from __future__ import annotations

import base64
import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunelab.domain.plots import check_plot

Plot = dict[str, Any]


def histogram(
    title: str,
    series: str,
    values: Any,
    iteration: int = 0,
    labels: Sequence[str] | None = None,
    xlabels: Sequence[str] | None = None,
    xaxis: str | None = None,
    yaxis: str | None = None,
) -> Plot:
    """``values``: one bar height per bin, or rows of bins with one column per bar group
    (``labels`` names the groups, ``xlabels`` the bins)."""
    plain = _plain(values)
    if not isinstance(plain, list) or not plain:
        raise ValueError(f"histogram {title!r}/{series!r}: values must be a non-empty array")
    if all(isinstance(row, list) for row in plain):
        widths = {len(row) for row in plain}
        if len(widths) != 1:
            raise ValueError(f"histogram {title!r}/{series!r}: rows of values differ in length")
        groups = [list(column) for column in zip(*plain, strict=True)]
    else:
        groups = [plain]
    data = {"values": groups, "labels": _texts(labels), "xlabels": _texts(xlabels)}
    return _checked(title, series, iteration, "histogram", data, xaxis, yaxis)


def scatter2d(
    title: str,
    series: str,
    scatter: Any,
    iteration: int = 0,
    xaxis: str | None = None,
    yaxis: str | None = None,
    labels: Sequence[str] | None = None,
    mode: str = "lines",
) -> Plot:
    """``scatter``: (x, y) pairs, or an Nx2 array."""
    points = _plain(scatter)
    if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
        raise ValueError(
            f"scatter {title!r}/{series!r}: scatter must be a list of (x, y) pairs or an Nx2 array"
        )
    data = {
        "x": [p[0] for p in points],
        "y": [p[1] for p in points],
        "labels": _texts(labels),
        "mode": mode,
    }
    return _checked(title, series, iteration, "scatter2d", data, xaxis, yaxis)


def confusion_matrix(
    title: str,
    series: str,
    matrix: Any,
    iteration: int = 0,
    xaxis: str | None = None,
    yaxis: str | None = None,
    xlabels: Sequence[str] | None = None,
    ylabels: Sequence[str] | None = None,
    yaxis_reversed: bool = False,
) -> Plot:
    """``matrix``: rows of numbers (``ylabels`` names the rows, ``xlabels`` the columns);
    row 0 is drawn at the bottom, or at the top with ``yaxis_reversed``."""
    rows = _plain(matrix)
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ValueError(f"confusion matrix {title!r}/{series!r}: matrix must be a 2-D array")
    data = {
        "matrix": rows,
        "xlabels": _texts(xlabels),
        "ylabels": _texts(ylabels),
        "yaxis_reversed": bool(yaxis_reversed),
    }
    return _checked(title, series, iteration, "confusion_matrix", data, xaxis, yaxis)


def table(
    title: str,
    series: str,
    iteration: int = 0,
    table_plot: Any = None,
    csv: str | Path | None = None,
    url: str | None = None,
) -> Plot:
    """Exactly one of ``table_plot`` (a DataFrame, or rows whose first is the header),
    ``csv`` (a local CSV file) or ``url`` (a CSV file at any fsspec URL)."""
    given = [x for x in (table_plot, csv, url) if x is not None]
    if len(given) != 1:
        raise ValueError(f"table {title!r}/{series!r}: give one of table_plot, csv or url")
    if table_plot is not None and _is_dataframe(table_plot):
        columns, rows = _dataframe(table_plot)
    elif table_plot is not None:
        plain = _plain(table_plot)
        if not (isinstance(plain, list) and plain and isinstance(plain[0], list)):
            raise TypeError(
                f"table {title!r}/{series!r}: table_plot must be a pandas DataFrame or a "
                "list of rows whose first row is the header"
            )
        header, *rows = plain
        columns = [str(c) for c in header]
    else:
        columns, rows = _read_csv(csv, url)
    cells = [[_cell(v) for v in row] if isinstance(row, list) else row for row in rows]
    return _checked(title, series, iteration, "table", {"columns": columns, "rows": cells})


def figure_png(title: str, series: str, figure: Any, iteration: int = 0) -> Plot:
    """A matplotlib figure (or ``matplotlib.pyplot``) as a PNG image."""
    if not callable(getattr(figure, "savefig", None)):
        raise TypeError(
            f"image {title!r}/{series!r}: figure must be a matplotlib Figure (or pyplot)"
        )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = {"mime": "image/png", "base64": base64.b64encode(buffer.getvalue()).decode("ascii")}
    return _checked(title, series, iteration, "image", data)


# --- pieces ----------------------------------------------------------------------------


def _checked(
    title: str,
    series: str,
    iteration: int,
    kind: str,
    data: dict[str, Any],
    xaxis: str | None = None,
    yaxis: str | None = None,
) -> Plot:
    if kind not in ("table", "image", "plotly"):
        data.update(xaxis=xaxis or "", yaxis=yaxis or "")
    plot = {"title": title, "series": series, "iteration": _plain(iteration), "kind": kind}
    return check_plot({**plot, "data": data})


def _plain(value: Any) -> Any:
    """Lists of Python numbers from NumPy arrays and scalars, pandas Series and tuples."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _texts(labels: Sequence[Any] | None) -> list[str] | None:
    return None if labels is None else [str(x) for x in _plain(labels)]


def _cell(value: Any) -> Any:
    """A table cell: text, a finite number or None (an empty cell)."""
    value = value.item() if hasattr(value, "item") and not isinstance(value, str) else value
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value != value:  # pandas NA/NaT compare unequal to themselves
        return None
    return str(value)


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and type(obj).__module__.startswith("pandas")


def _dataframe(frame: Any) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows; a meaningful index (not 0..n-1) becomes the first column."""
    columns = [str(c) for c in frame.columns]
    rows = [list(row) for row in frame.itertuples(index=False, name=None)]
    if type(frame.index).__name__ != "RangeIndex":
        columns.insert(0, str(frame.index.name or ""))
        rows = [[index, *row] for index, row in zip(frame.index, rows, strict=True)]
    return columns, rows


def _read_csv(path: str | Path | None, url: str | None) -> tuple[list[str], list[list[Any]]]:
    if path is not None:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    else:
        import fsspec  # type: ignore[import-untyped]  # only for a table read from a URL

        with fsspec.open(url, "rt", encoding="utf-8") as handle:
            text = handle.read()
    header, *rows = list(csv.reader(io.StringIO(text))) or [[]]
    return header, [[_number(cell) for cell in row] for row in rows if row]


def _number(text: str) -> Any:
    """CSV cells that read as numbers are numbers (sortable, right-aligned)."""
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        return value if math.isfinite(value) else text
    return text
