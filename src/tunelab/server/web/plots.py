"""The experiment page's Plots tab: every plot at its last iteration, grouped by title.

Tables, confusion matrices and images are rendered here as HTML; histograms and scatter
plots carry their numbers in ``data-plot`` and ``static/js/plots.js`` draws them with uPlot.
A plot reported at several iterations has a selector that swaps in
``/experiments/{id}/plots/view?title=&series=&iteration=`` (a card for htmx, else the page
showing that plot alone).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tunelab.server.api.deps import Conn
from tunelab.server.web.experiment_page import experiment_context
from tunelab.server.web.templating import is_htmx, render
from tunelab.store.plots import StoredPlot, plot_iterations, read_plot, read_plots

router = APIRouter(include_in_schema=False)

Name = Annotated[str, Query(min_length=1, max_length=512)]


@dataclass(frozen=True)
class PlotCard:
    plot: StoredPlot
    # Every iteration this plot was reported at, ascending.
    iterations: list[int]

    @property
    def dom_id(self) -> str:
        key = f"{self.plot.title}\0{self.plot.series}".encode()
        return "plot-" + hashlib.sha1(key, usedforsecurity=False).hexdigest()[:12]

    @property
    def cells(self) -> list[list[tuple[Any, float]]]:
        """A confusion matrix's cells as (value, shade 0..1 of the largest value)."""
        matrix = self.plot.data["matrix"]
        top = max((abs(v) for row in matrix for v in row), default=0) or 1
        return [[(v, abs(v) / top) for v in row] for row in matrix]

    @property
    def rows(self) -> list[tuple[int, list[tuple[Any, float]]]]:
        """The matrix's rows as drawn, each with its index: row 0 at the bottom when the
        plot says ``yaxis_reversed: false`` (ClearML's default), else at the top."""
        rows = list(enumerate(self.cells))
        return rows[::-1] if self.plot.data.get("yaxis_reversed") is False else rows


@router.get("/experiments/{task_id}/plots", response_class=HTMLResponse)
def plots_tab(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    context = experiment_context(conn, task_id, "plots")
    iterations = plot_iterations(conn, task_id)
    cards = [_card(p, iterations) for p in read_plots(conn, task_id, last_only=True)]
    context.update(groups=_by_title(cards), focused=False)
    return render(request, "experiment/plots.html", context)


@router.get("/experiments/{task_id}/plots/view", response_class=HTMLResponse)
def plot_view(
    task_id: str,
    request: Request,
    conn: Conn,
    title: Name,
    series: Name,
    iteration: Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1)] = None,
) -> HTMLResponse:
    """One plot at ``iteration`` (default: its last)."""
    context = experiment_context(conn, task_id, "plots")
    card = _card(read_plot(conn, task_id, title, series, iteration), plot_iterations(conn, task_id))
    if is_htmx(request):
        return render(request, "plots/_card.html", {"task": context["task"], "card": card})
    context.update(groups=_by_title([card]), focused=True)
    return render(request, "experiment/plots.html", context)


def _card(plot: StoredPlot, iterations: dict[tuple[str, str], list[int]]) -> PlotCard:
    return PlotCard(plot, iterations.get((plot.title, plot.series), [plot.iteration]))


def _by_title(cards: list[PlotCard]) -> list[tuple[str, list[PlotCard]]]:
    groups: dict[str, list[PlotCard]] = {}
    for card in cards:
        groups.setdefault(card.plot.title, []).append(card)
    return list(groups.items())
