"""A matplotlib figure as a plotly.js figure, read from its artists, when it holds only what
converts faithfully: lines, scatter markers and bars (``plot``, ``scatter``, ``bar``,
``barh``, ``hist``), with axis labels, limits, log scales, titles and legends. A figure with
anything else (an image, a filled area, a contour, a text annotation, a patch) is None: the
caller stores it as a PNG, so nothing drawn is lost.

matplotlib is never imported here until a figure (which brought it along) is converted.

Example::

    figure, axes = plt.subplots()
    axes.plot([0, 1, 2], [1, 4, 2], label="loss")
    to_plotly(figure)   # {"data": [{"type": "scatter", "x": [0, 1, 2], ...}], "layout": {...}}
"""

from __future__ import annotations

import math
from typing import Any

Figure = dict[str, Any]

_DASHES = {"--": "dash", ":": "dot", "-.": "dashdot"}
_NO_STYLE = ("None", "none", "", " ")


def to_plotly(figure: Any) -> Figure | None:
    """The figure as plotly's ``{"data", "layout"}``; None when some of it cannot convert."""
    from matplotlib.container import BarContainer

    axes_list = [ax for ax in figure.get_axes() if ax.get_visible()]
    if not axes_list:
        return None
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = {"annotations": [], "showlegend": False}
    for n, ax in enumerate(axes_list, start=1):
        if ax.images or ax.texts or ax.tables or ax.artists or ax.child_axes:
            return None
        bars = [c for c in ax.containers if isinstance(c, BarContainer)]
        in_bars = {id(p) for c in bars for p in c.patches}
        if any(id(p) not in in_bars for p in ax.patches):
            return None
        found = [_line(ax, line, n) for line in ax.get_lines()]
        found += [_points(ax, c, n) for c in ax.collections]
        if any(t is None for t in found):
            return None
        axis_traces = [t for t in found if t is not None]
        axis_traces += [_bars(c, n) for c in bars]
        legend = ax.get_legend() is not None
        for trace in axis_traces:
            trace["showlegend"] = legend and not trace["name"].startswith("_")
        traces += axis_traces
        layout["showlegend"] = layout["showlegend"] or legend
        _axes_layout(layout, ax, n)
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        layout["title"] = {"text": suptitle.get_text()}
    height = figure.get_size_inches()[1] * figure.dpi
    layout["height"] = max(200, min(int(height), 1200))
    layout["margin"] = {"t": 50 if "title" in layout else 30, "r": 20, "b": 50, "l": 60}
    if not traces:
        return None
    return {"data": traces, "layout": layout}


def _line(ax: Any, line: Any, n: int) -> dict[str, Any] | None:
    """A line in data coordinates; one placed otherwise (``axhline``) does not convert."""
    from matplotlib.colors import to_hex

    if line.get_transform() != ax.transData:
        return None

    linestyle, marker = line.get_linestyle(), line.get_marker()
    lines, markers = linestyle not in _NO_STYLE, marker not in _NO_STYLE and marker is not None
    trace: dict[str, Any] = {
        "type": "scatter",
        "name": str(line.get_label()),
        "mode": "lines+markers" if lines and markers else "markers" if markers else "lines",
        "x": _numbers(line.get_xdata(orig=False)),
        "y": _numbers(line.get_ydata(orig=False)),
        "xaxis": _ref("x", n),
        "yaxis": _ref("y", n),
    }
    color = to_hex(line.get_color(), keep_alpha=False)
    if lines:
        trace["line"] = {"color": color, "width": float(line.get_linewidth()), "dash": "solid"}
        trace["line"]["dash"] = _DASHES.get(linestyle, "solid")
    if markers:
        trace["marker"] = {"color": color, "size": float(line.get_markersize())}
    return trace


def _points(ax: Any, collection: Any, n: int) -> dict[str, Any] | None:
    """``scatter``'s markers; any other collection (filled areas, meshes) does not convert."""
    from matplotlib.collections import PathCollection
    from matplotlib.colors import to_hex

    if type(collection) is not PathCollection:
        return None
    points: Any = collection  # matplotlib's stubs lack some of its methods
    if points.get_offset_transform() != ax.transData:
        return None
    offsets = points.get_offsets()
    colors = [to_hex(c, keep_alpha=False) for c in points.get_facecolors()]
    sizes = [math.sqrt(float(s)) for s in points.get_sizes()] or [6.0]
    return {
        "type": "scatter",
        "name": str(points.get_label()),
        "mode": "markers",
        "x": _numbers([p[0] for p in offsets]),
        "y": _numbers([p[1] for p in offsets]),
        "marker": {
            "color": colors[0] if len(colors) == 1 else colors or None,
            "size": sizes[0] if len(sizes) == 1 else sizes,
        },
        "xaxis": _ref("x", n),
        "yaxis": _ref("y", n),
    }


def _bars(container: Any, n: int) -> dict[str, Any]:
    from matplotlib.colors import to_hex

    patches = container.patches
    horizontal = getattr(container, "orientation", "vertical") == "horizontal"
    if horizontal:
        at = [p.get_y() + p.get_height() / 2 for p in patches]
        length, base = [p.get_width() for p in patches], [p.get_x() for p in patches]
        size = [p.get_height() for p in patches]
    else:
        at = [p.get_x() + p.get_width() / 2 for p in patches]
        length, base = [p.get_height() for p in patches], [p.get_y() for p in patches]
        size = [p.get_width() for p in patches]
    return {
        "type": "bar",
        "name": str(container.get_label() or "_bars"),
        "orientation": "h" if horizontal else "v",
        "x": _numbers(length if horizontal else at),
        "y": _numbers(at if horizontal else length),
        "base": _numbers(base),
        "width": _numbers(size),
        "marker": {"color": [to_hex(p.get_facecolor(), keep_alpha=False) for p in patches]},
        "xaxis": _ref("x", n),
        "yaxis": _ref("y", n),
    }


def _axes_layout(layout: dict[str, Any], ax: Any, n: int) -> None:
    box = ax.get_position()
    for axis, label, scale, limits, domain in (
        ("x", ax.get_xlabel(), ax.get_xscale(), ax.get_xlim(), [box.x0, box.x1]),
        ("y", ax.get_ylabel(), ax.get_yscale(), ax.get_ylim(), [box.y0, box.y1]),
    ):
        log = scale == "log"
        low, high = (math.log10(v) if log and v > 0 else v for v in limits)
        layout[f"{axis}axis{'' if n == 1 else n}"] = {
            "title": {"text": label},
            "type": "log" if log else "linear",
            "range": [low, high],
            "domain": [_unit(domain[0]), _unit(domain[1])],
            "anchor": _ref("y" if axis == "x" else "x", n),
            "showgrid": True,
            "zeroline": False,
            **_ticks(getattr(ax, f"{axis}axis")),
        }
    title = ax.get_title()
    if title:
        layout["annotations"].append(
            {
                "text": title,
                "x": (box.x0 + box.x1) / 2,
                "y": box.y1,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
            }
        )


def _ticks(axis: Any) -> dict[str, Any]:
    """Tick labels a number does not show (categories, dates), as matplotlib writes them."""
    from matplotlib.ticker import LogFormatter, ScalarFormatter

    formatter = axis.get_major_formatter()
    if isinstance(formatter, ScalarFormatter | LogFormatter):
        return {}
    ticks = [float(t) for t in axis.get_majorticklocs()]
    return {"tickvals": ticks, "ticktext": [str(t) for t in formatter.format_ticks(ticks)]}


def _ref(axis: str, n: int) -> str:
    return axis if n == 1 else f"{axis}{n}"


def _unit(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def _numbers(values: Any) -> list[float | None]:
    """Plain floats; NaN (matplotlib's break in a line) is null, plotly's gap."""
    out: list[float | None] = []
    for v in values:
        f = float(v)
        out.append(f if math.isfinite(f) else None)
    return out
