"""What ``Logger.report_plotly``, ``report_surface``, ``report_scatter3d`` and
``report_line_plot`` send: a plotly.js figure (``{"data": [traces], "layout": {...}}``) as a
checked plot of kind ``plotly``.

plotly itself is never imported here: a ``plotly.graph_objects.Figure`` brought its library
along, and its ``to_plotly_json()`` is all that is used. NumPy arrays and scalars, tuples,
dates and NaN (a gap: ``null``) inside a figure become JSON; anything else is a TypeError
naming the plot, raised in the caller before anything is queued.

Example::

    surface("loss landscape", "val", [[1, 2], [3, 4]], xaxis="lr", zaxis="loss")
    # {"title": "loss landscape", "series": "val", "iteration": 0, "kind": "plotly",
    #  "data": {"data": [{"type": "surface", "z": [[1, 2], [3, 4]], ...}], "layout": {...}}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunelab.domain.plots import check_plot

Plot = dict[str, Any]
Figure = dict[str, Any]


@dataclass
class SeriesInfo:
    """One line of ``report_line_plot``: its ``name``, (x, y) pairs or an Nx2 array as
    ``data``, and an optional label per point (as ClearML's ``Logger.SeriesInfo``)."""

    name: str
    data: Any
    labels: Sequence[str] | None = None


def plotly(title: str, series: str, figure: Any, iteration: int | None = None) -> Plot:
    """A plotly ``Figure`` or its dict (``{"data": [...], "layout": {...}}``)."""
    if not isinstance(figure, Mapping):
        to_json = getattr(figure, "to_plotly_json", None)
        if not callable(to_json):
            raise TypeError(
                f"plotly {title!r}/{series!r}: figure must be a plotly Figure or its dict"
            )
        figure = to_json()
    where = f"plotly {title!r}/{series!r}"
    plain = _json(where, figure)
    if not isinstance(plain, dict) or "data" not in plain:
        raise ValueError(f"{where}: a figure needs a list of traces under 'data'")
    return _checked(title, series, iteration, {"data": plain["data"], **_layout(plain)})


def surface(
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
) -> Plot:
    """``matrix``: rows of heights (``ylabels`` names the rows, ``xlabels`` the columns);
    ``camera``: the eye's (x, y, z), plotly's default (1.25, 1.25, 1.25) without it."""
    where = f"surface {title!r}/{series!r}"
    rows = _json(where, matrix)
    if not (isinstance(rows, list) and rows and all(isinstance(r, list) for r in rows)):
        raise ValueError(f"{where}: matrix must be a non-empty 2-D array")
    trace: dict[str, Any] = {"type": "surface", "name": series, "z": rows}
    if xlabels is not None:
        trace["x"] = [str(x) for x in xlabels]
    if ylabels is not None:
        trace["y"] = [str(y) for y in ylabels]
    scene: dict[str, Any] = _scene(xaxis, yaxis, zaxis)
    if camera is not None:
        eye = [float(v) for v in _json(where, camera)]
        if len(eye) != 3:
            raise ValueError(f"{where}: camera is the eye's (x, y, z)")
        scene["camera"] = {"eye": dict(zip("xyz", eye, strict=True))}
    layout = {"scene": scene, **_comment(comment)}
    return _checked(title, series, iteration, _figure([trace], layout, extra_layout, where))


def scatter3d(
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
) -> Plot:
    """``scatter``: (x, y, z) points or an Nx3 array, or a list of such (a trace each)."""
    where = f"scatter3d {title!r}/{series!r}"
    points = _json(where, scatter)
    if isinstance(points, list) and points and all(_is_points(p, 3) for p in points):
        groups = points  # several series of points
    elif _is_points(points, 3):
        groups = [points]
    else:
        raise ValueError(f"{where}: scatter must be (x, y, z) points or an Nx3 array")
    traces = []
    for i, group in enumerate(groups):
        xs, ys, zs = (list(column) for column in zip(*group, strict=True))
        trace: dict[str, Any] = {
            "type": "scatter3d",
            "name": series if len(groups) == 1 else f"{series} {i}",
            "mode": _mode(where, mode),
            "x": xs,
            "y": ys,
            "z": zs,
        }
        if labels is not None:
            trace["text"] = [str(x) for x in labels]
        if fill:
            trace["surfaceaxis"] = 2  # the area under the line, down to z's floor
        traces.append(trace)
    layout = {"scene": _scene(xaxis, yaxis, zaxis), **_comment(comment)}
    return _checked(title, series, iteration, _figure(traces, layout, extra_layout, where))


def scatter2d(
    title: str,
    series: str,
    scatter: Any,
    iteration: int | None = None,
    xaxis: str | None = None,
    yaxis: str | None = None,
    labels: Sequence[str] | None = None,
    mode: str = "lines",
    comment: str | None = None,
    extra_layout: Mapping[str, Any] | None = None,
) -> Plot:
    """A scatter plot as a plotly figure: what ``report_scatter2d`` sends when it is given
    a ``comment`` or an ``extra_layout`` (which only a plotly figure can carry)."""
    line = SeriesInfo(series, scatter, labels)
    return line_plot(
        title, [line], xaxis, yaxis, mode, iteration, False, comment, extra_layout, series
    )


def line_plot(
    title: str,
    series: Sequence[SeriesInfo | Mapping[str, Any]],
    xaxis: str | None = None,
    yaxis: str | None = None,
    mode: str = "lines",
    iteration: int | None = None,
    reverse_xaxis: bool = False,
    comment: str | None = None,
    extra_layout: Mapping[str, Any] | None = None,
    series_name: str = "plot",
) -> Plot:
    """One line per ``SeriesInfo`` (or its dict) in one plot, stored as series ``plot``."""
    where = f"line plot {title!r}"
    if not series:
        raise ValueError(f"{where}: series must list at least one SeriesInfo")
    traces = []
    for item in series:
        info = SeriesInfo(**item) if isinstance(item, Mapping) else item
        if not isinstance(info, SeriesInfo):
            raise TypeError(f"{where}: series holds {type(info).__name__}, not a SeriesInfo")
        points = _json(where, info.data)
        if not _is_points(points, 2):
            raise ValueError(f"{where}: {info.name!r} needs (x, y) pairs or an Nx2 array")
        xs, ys = (list(column) for column in zip(*points, strict=True))
        trace: dict[str, Any] = {
            "type": "scatter",
            "name": str(info.name),
            "mode": _mode(where, mode),
            "x": xs,
            "y": ys,
        }
        if info.labels is not None:
            trace["text"] = [str(x) for x in info.labels]
        traces.append(trace)
    layout: dict[str, Any] = {
        "xaxis": {"title": {"text": xaxis or ""}},
        "yaxis": {"title": {"text": yaxis or ""}},
        **_comment(comment),
    }
    if reverse_xaxis:
        layout["xaxis"]["autorange"] = "reversed"
    figure = _figure(traces, layout, extra_layout, where)
    return _checked(title, series_name, iteration, figure)


# --- pieces ----------------------------------------------------------------------------


def _checked(title: str, series: str, iteration: int | None, figure: Figure) -> Plot:
    plot = {
        "title": title,
        "series": series,
        "iteration": 0 if iteration is None else _json("iteration", iteration),
        "kind": "plotly",
        "data": figure,
    }
    return check_plot(plot)


def _figure(
    traces: list[dict[str, Any]],
    layout: dict[str, Any],
    extra: Mapping[str, Any] | None,
    where: str,
) -> Figure:
    if extra is not None:
        layout = _merge(layout, _json(where, extra))
    return {"data": traces, "layout": layout}


def _merge(base: dict[str, Any], extra: Any) -> dict[str, Any]:
    """``extra_layout`` over the layout made here, object by object."""
    if not isinstance(extra, dict):
        raise TypeError("extra_layout must be a dict")
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _layout(figure: dict[str, Any]) -> dict[str, Any]:
    return {"layout": figure["layout"]} if "layout" in figure else {"layout": {}}


def _scene(xaxis: str | None, yaxis: str | None, zaxis: str | None) -> dict[str, Any]:
    return {
        f"{axis}axis": {"title": {"text": label or ""}}
        for axis, label in (("x", xaxis), ("y", yaxis), ("z", zaxis))
    }


def _comment(comment: str | None) -> dict[str, Any]:
    return {"title": {"text": str(comment)}} if comment else {}


def _mode(where: str, mode: str) -> str:
    if mode not in ("lines", "markers", "lines+markers"):
        raise ValueError(f"{where}: mode must be lines, markers or lines+markers, got {mode!r}")
    return mode


def _is_points(value: Any, width: int) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(p, list) and len(p) == width for p in value)
    )


def _finite_numbers(array: Any) -> bool:
    """A NumPy array of whole numbers, or of floats all finite (NaN makes the max NaN)."""
    kind = getattr(getattr(array, "dtype", None), "kind", "")
    if kind in ("b", "i", "u"):
        return True
    return kind == "f" and getattr(array, "size", 0) > 0 and bool(abs(array).max() < math.inf)


def _json(where: str, value: Any) -> Any:
    """Plain JSON values from NumPy arrays and scalars, pandas objects, tuples and dates;
    NaN and infinities become null (plotly's gap). ValueError for a value that holds itself
    (or nests deeper than Python recurses), as for any other figure JSON cannot write."""
    try:
        return _plain(where, value)
    except RecursionError:
        raise ValueError(f"{where}: holds itself, or nests too deep to be JSON") from None


def _plain(where: str, value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(where, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(where, v) for v in value]
    if hasattr(value, "tolist"):  # NumPy arrays and scalars, pandas Series and Index
        if _finite_numbers(value):
            return value.tolist()  # the bulk of a figure: not walked number by number
        return _plain(where, value.tolist())
    if callable(getattr(value, "isoformat", None)):  # datetime, date, pandas Timestamp
        return value.isoformat()
    if hasattr(value, "to_plotly_json"):  # a plotly object nested in a dict
        return _plain(where, value.to_plotly_json())
    raise TypeError(f"{where}: holds a {type(value).__name__}, which is not JSON")
