"""A plot as it travels and is stored: plain JSON, checked the same way by the SDK and the server.

A plot is ``{"title", "series", "iteration", "kind", "data"}``; ``data`` depends on ``kind``::

    histogram         {"values": [[bar heights of group 1], ...], "labels": [group names] | None,
                       "xlabels": [bar names] | None, "xaxis": str, "yaxis": str}
    scatter2d         {"x": [...], "y": [...], "labels": [point labels] | None,
                       "mode": "lines" | "markers" | "lines+markers", "xaxis": str, "yaxis": str}
    confusion_matrix  {"matrix": [[row], ...], "xlabels": [...] | None, "ylabels": [...] | None,
                       "xaxis": str, "yaxis": str, "yaxis_reversed": bool | None}
                      (yaxis_reversed: True puts row 0 at the top, False at the bottom as
                      ClearML's default; None, as before it existed, at the top)
    table             {"columns": [names], "rows": [[cells], ...]}   cells: text, number, bool, None
    image             {"mime": "image/png" | "image/jpeg", "base64": "..."}
    plotly            {"data": [trace objects], "layout": {...}}   a plotly.js figure: JSON
                      values only (objects, lists, text, finite numbers, booleans, null),
                      nested at most MAX_PLOTLY_DEPTH deep; ``type`` of a trace is text

``check_plot`` raises ValueError naming the plot and the problem; the SDK lets that reach the
caller of ``report_*``, the server answers it as a 400. No third-party imports (see
``tunelab.domain``): arrays are converted to lists before they get here.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any

KINDS = ("histogram", "scatter2d", "confusion_matrix", "table", "image", "plotly")
SCATTER_MODES = ("lines", "markers", "lines+markers")
IMAGE_MIMES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
# One plot's data as JSON text: a table of ~50k cells, a 1 MB PNG, a 200k-point scatter.
MAX_PLOT_BYTES = 4 * 1024 * 1024
MAX_NAME_LENGTH = 512  # the title/series columns' size
MAX_LABEL_LENGTH = 1024
_INT64 = 2**63
# Deeper than any figure plotly makes (a few levels); keeps a hostile body from exhausting
# the recursion of every reader of the plot.
MAX_PLOTLY_DEPTH = 32
MAX_PLOTLY_TRACES = 1000


class PlotTooLarge(ValueError):
    """A plot whose data is over ``MAX_PLOT_BYTES`` (the server answers 413)."""


def check_plot(plot: Mapping[str, Any]) -> dict[str, Any]:
    """The plot as stored (a new dict), or ValueError; ``PlotTooLarge`` over the size limit."""
    title, series = plot.get("title"), plot.get("series")
    name = f"plot {title!r}/{series!r}"
    check_name(name, "title", title)
    check_name(name, "series", series)
    iteration = plot.get("iteration")
    if isinstance(iteration, bool) or not isinstance(iteration, int):
        raise ValueError(f"{name}: iteration must be a whole number, got {iteration!r}")
    if not -_INT64 <= iteration < _INT64:
        raise ValueError(f"{name}: iteration must be between -2**63 and 2**63-1")
    kind = plot.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{name}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    data = plot.get("data")
    if not isinstance(data, Mapping):
        raise ValueError(f"{name}: data must be an object")
    checked = _CHECKS[kind](name, data)
    size = len(data_json(checked))
    if size > MAX_PLOT_BYTES:
        raise PlotTooLarge(
            f"{name}: its data is {size} bytes of JSON, more than the limit of "
            f"{MAX_PLOT_BYTES}; report less data (fewer points, a smaller image)"
        )
    return {"title": title, "series": series, "iteration": iteration, "kind": kind, "data": checked}


def data_json(data: Mapping[str, Any]) -> str:
    """The stored text of a plot's data (ASCII: storable as any database's text)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def check_name(name: str, field: str, value: Any) -> None:
    """A plot's (or debug sample's) ``field`` as the stores hold it: 1 to 512 characters of
    valid Unicode without NUL; ValueError naming ``name`` otherwise."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: {field} must be non-empty text")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"{name}: {field} is longer than {MAX_NAME_LENGTH} characters")
    if "\x00" in value:
        raise ValueError(f"{name}: {field} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name}: {field} must be valid Unicode text") from None


# --- per kind --------------------------------------------------------------------------


def _histogram(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    groups = data.get("values")
    if not isinstance(groups, list) or not groups:
        raise ValueError(f"{name}: values must be a non-empty list of bar groups")
    values = [_numbers(name, f"values[{i}]", g) for i, g in enumerate(groups)]
    bars = len(values[0])
    if bars == 0 or any(len(v) != bars for v in values):
        raise ValueError(f"{name}: every group of values needs the same number (> 0) of bars")
    return {
        "values": values,
        "labels": _labels(name, "labels", data.get("labels"), len(values)),
        "xlabels": _labels(name, "xlabels", data.get("xlabels"), bars),
        **_axes(name, data),
    }


def _scatter(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    x = _numbers(name, "x", data.get("x"))
    y = _numbers(name, "y", data.get("y"))
    if len(x) != len(y) or not x:
        raise ValueError(f"{name}: x and y need the same number (> 0) of points")
    mode = data.get("mode", "lines")
    if mode not in SCATTER_MODES:
        raise ValueError(f"{name}: mode must be one of {', '.join(SCATTER_MODES)}, got {mode!r}")
    return {
        "x": x,
        "y": y,
        "labels": _labels(name, "labels", data.get("labels"), len(x)),
        "mode": mode,
        **_axes(name, data),
    }


def _confusion(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    rows = data.get("matrix")
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{name}: matrix must be a non-empty list of rows")
    matrix = [_numbers(name, f"matrix[{i}]", row) for i, row in enumerate(rows)]
    width = len(matrix[0])
    if width == 0 or any(len(row) != width for row in matrix):
        raise ValueError(f"{name}: matrix rows must all have the same length (> 0)")
    return {
        "matrix": matrix,
        "xlabels": _labels(name, "xlabels", data.get("xlabels"), width),
        "ylabels": _labels(name, "ylabels", data.get("ylabels"), len(matrix)),
        **_axes(name, data),
        "yaxis_reversed": _optional_bool(name, "yaxis_reversed", data.get("yaxis_reversed")),
    }


def _table(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    columns = _labels(name, "columns", data.get("columns"), None)
    if not columns:
        raise ValueError(f"{name}: a table needs a header row of column names")
    rows = data.get("rows")
    if not isinstance(rows, list):
        raise ValueError(f"{name}: rows must be a list of rows")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            raise ValueError(f"{name}: row {i} must be a list of {len(columns)} cells")
        for cell in row:
            ok = cell is None or isinstance(cell, str | int | float)
            if not ok or (isinstance(cell, float) and not math.isfinite(cell)):
                raise ValueError(f"{name}: row {i} holds {cell!r}; cells are text or numbers")
    return {"columns": columns, "rows": rows}


def _image(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    mime, text = data.get("mime"), data.get("base64")
    if mime not in IMAGE_MIMES:
        raise ValueError(f"{name}: mime must be one of {', '.join(IMAGE_MIMES)}, got {mime!r}")
    if not isinstance(text, str):
        raise ValueError(f"{name}: base64 must be the image's bytes in base64")
    try:
        head = base64.b64decode(text[:64].encode("ascii"), validate=True)
        base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError(f"{name}: base64 is not valid base64") from None
    if not head.startswith(IMAGE_MIMES[mime]):
        raise ValueError(f"{name}: the bytes are not a {mime} image")
    return {"mime": mime, "base64": text}


def _plotly(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    traces, layout = data.get("data"), data.get("layout", {})
    if set(data) - {"data", "layout"}:
        raise ValueError(f"{name}: a plotly figure holds only data and layout")
    if not isinstance(traces, list) or not all(isinstance(t, Mapping) for t in traces):
        raise ValueError(f"{name}: data must be a list of trace objects")
    if len(traces) > MAX_PLOTLY_TRACES:
        raise ValueError(f"{name}: more than {MAX_PLOTLY_TRACES} traces")
    if not isinstance(layout, Mapping):
        raise ValueError(f"{name}: layout must be an object")
    for i, trace in enumerate(traces):
        if not isinstance(trace.get("type", ""), str):
            raise ValueError(f"{name}: data[{i}].type must be text")
    _json_only(name, "data", traces, 0)
    _json_only(name, "layout", layout, 0)
    return {"data": traces, "layout": layout}


def _finite_floats(values: list[Any]) -> bool:
    """A list of finite floats, checked at C speed (the bulk of most figures); False sends
    the list through the item by item check, which names the culprit."""
    if not all(type(v) is float for v in values):
        return False
    try:
        return math.isfinite(math.fsum(values))
    except (OverflowError, ValueError):  # an infinity or NaN (or a sum past float64)
        return False


def _json_only(name: str, where: str, value: Any, depth: int) -> None:
    """Objects with text keys, lists, text, finite numbers, booleans and null: nothing a
    browser could run, nothing ``json.dumps`` would refuse."""
    if depth > MAX_PLOTLY_DEPTH:
        raise ValueError(f"{name}: {where} is nested more than {MAX_PLOTLY_DEPTH} deep")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{name}: {where} has a key {key!r} that is not text")
            _json_only(name, where, item, depth + 1)
    elif isinstance(value, list):
        if _finite_floats(value):
            return
        for item in value:
            if isinstance(item, float):  # the bulk of a figure: kept off the recursion
                if not math.isfinite(item):
                    raise ValueError(f"{name}: {where} holds {item!r}; numbers must be finite")
            elif not (item is None or isinstance(item, str | int)):
                _json_only(name, where, item, depth + 1)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name}: {where} holds {value!r}; numbers must be finite")
    elif isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        raise ValueError(f"{name}: {where} holds a whole number beyond 64 bits")
    elif not (value is None or isinstance(value, str | int)):
        raise ValueError(f"{name}: {where} holds {type(value).__name__}, not JSON")


_CHECKS = {
    "histogram": _histogram,
    "scatter2d": _scatter,
    "confusion_matrix": _confusion,
    "table": _table,
    "image": _image,
    "plotly": _plotly,
}


# --- pieces ----------------------------------------------------------------------------


def _numbers(name: str, field: str, values: Any) -> list[int | float]:
    if not isinstance(values, list):
        raise ValueError(f"{name}: {field} must be a list of numbers")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name}: {field} holds {value!r}, not a number")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # a whole number beyond float64
            finite = False
        if not finite:
            raise ValueError(f"{name}: {field} holds {value!r}; numbers must be finite")
    return values


def _labels(name: str, field: str, labels: Any, count: int | None) -> list[str] | None:
    if labels is None:
        return None
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{name}: {field} must be a list of text")
    if count is not None and len(labels) != count:
        raise ValueError(f"{name}: {field} has {len(labels)} items for {count}")
    if any(len(x) > MAX_LABEL_LENGTH for x in labels):
        raise ValueError(f"{name}: {field} holds a label over {MAX_LABEL_LENGTH} characters")
    return labels


def _optional_bool(name: str, field: str, value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name}: {field} must be true, false or null")
    return value


def _axes(name: str, data: Mapping[str, Any]) -> dict[str, str]:
    axes = {}
    for field in ("xaxis", "yaxis"):
        value = data.get(field) or ""
        if not isinstance(value, str) or len(value) > MAX_LABEL_LENGTH:
            raise ValueError(f"{name}: {field} must be text (at most {MAX_LABEL_LENGTH} chars)")
        axes[field] = value
    return axes
