"""The Compare page's plotly figures: each (title, series) that any compared experiment
reported as a plotly figure, at its last iteration. Line plots (figures of 2D scatter traces
on one pair of axes) are overlaid in one chart, each line named after its experiment; any
other figure is shown side by side, one per experiment (a gap where one has none)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tunelab.store.plots import StoredPlot, read_plots

# Figures are drawn in the browser one WebGL or SVG scene each: a page of more would crawl.
MAX_ROWS = 24


@dataclass(frozen=True)
class PlotRow:
    title: str
    series: str
    # One per compared experiment, in the page's order: (experiment, its figure or None).
    cells: list[tuple[dict[str, Any], StoredPlot | None]]

    @property
    def overlay(self) -> dict[str, Any] | None:
        """One figure of every experiment's lines, or None when a figure is not lines."""
        plots = [(task, plot) for task, plot in self.cells if plot is not None]
        if not all(_is_lines(plot.data) for _, plot in plots):
            return None
        traces = []
        for i, (task, plot) in enumerate(plots):
            for trace in plot.data["data"]:
                name = f"{task['name']}: {trace['name']}" if trace.get("name") else task["name"]
                # One colour per experiment, so its lines read as one run.
                traces.append(
                    {**trace, "name": name, "legendgroup": task["id"], **_color(trace, i)}
                )
        layout = dict(plots[0][1].data.get("layout") or {})
        layout["showlegend"] = True
        return {"data": traces, "layout": layout}


def plotly_rows(conn: sa.Connection, experiments: Sequence[dict[str, Any]]) -> list[PlotRow]:
    """The rows, ordered by title and series; at most ``MAX_ROWS``."""
    found: dict[tuple[str, str], dict[str, StoredPlot]] = {}
    for task in experiments:
        for plot in read_plots(conn, task["id"], last_only=True, kind="plotly"):
            found.setdefault((plot.title, plot.series), {})[task["id"]] = plot
    return [
        PlotRow(title, series, [(task, by_task.get(task["id"])) for task in experiments])
        for (title, series), by_task in sorted(found.items())[:MAX_ROWS]
    ]


_COLORS = ("#2f6fdf", "#e0802b", "#2e9e5b", "#c8362b", "#7c3aed", "#0e9aa7", "#b7791f")


def _is_lines(figure: dict[str, Any]) -> bool:
    traces = figure.get("data") or []
    return bool(traces) and all(
        trace.get("type", "scatter") == "scatter"
        and trace.get("xaxis", "x") == "x"
        and trace.get("yaxis", "y") == "y"
        for trace in traces
    )


def _color(trace: dict[str, Any], index: int) -> dict[str, Any]:
    color = _COLORS[index % len(_COLORS)]
    line, marker = trace.get("line"), trace.get("marker")
    return {
        "line": {**(line if isinstance(line, dict) else {}), "color": color},
        "marker": {**(marker if isinstance(marker, dict) else {}), "color": color},
    }
