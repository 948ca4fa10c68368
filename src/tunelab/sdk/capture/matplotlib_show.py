"""matplotlib figures shown by the script land on the task's Plots tab on their own.

``plt.show()`` reports every open figure that changed since it was last reported, and
``Figure.show()`` its own figure, before the original ``show`` runs: the script's behaviour is
unchanged (under the Agg backend ``show`` still does nothing). As ClearML names them, the
plot's title is the figure's suptitle, else its first axes title, else ``Figure N``; its
series is ``plot``; its iteration counts the shows of that title (0, 1, 2…), so the Plots
tab's iteration selector steps through them. A figure of lines, markers and bars is stored as
an interactive plotly figure, any other as a PNG image::

    when_imported("matplotlib.pyplot", patch_pyplot)     # by Task.init, unless
    Task.init(..., auto_connect_frameworks={"matplotlib": False})

matplotlib is never imported by Tunelab; a failure here is a capture warning.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Callable
from types import ModuleType
from typing import Any

from tunelab.domain import plots
from tunelab.sdk.capture.import_hooks import when_imported
from tunelab.sdk.capture_warnings import guarded

WHAT = "a matplotlib figure"
SERIES = "plot"

# Reports one plot (the run's logger); None while no run captures figures.
Report = Callable[[dict[str, Any]], None]


class _State:
    report: Report | None = None
    lock = threading.Lock()
    shows: dict[str, int] = {}  # title -> shows so far
    # figure -> a digest of what was last reported for it: an unchanged figure shown
    # again (every open figure is, by each plt.show()) is not reported again.
    reported: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
    numbers: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
    originals: dict[str, Any] = {}


_state = _State()


def capture(report: Report) -> None:
    """Report shown figures through ``report`` from now on (patching matplotlib once)."""
    with _state.lock:
        _state.report = report
        _state.shows.clear()
    when_imported("matplotlib.pyplot", _patch_pyplot)
    when_imported("matplotlib.figure", _patch_figure)


def stop() -> None:
    """The run ended (or does not capture figures): shows are no longer reported."""
    with _state.lock:
        _state.report = None


def _patch_pyplot(pyplot: ModuleType) -> None:
    if "pyplot.show" in _state.originals:
        return
    original = pyplot.show
    _state.originals["pyplot.show"] = original

    def show(*args: Any, **kwargs: Any) -> Any:
        if _state.report is not None:
            with guarded(WHAT):
                _report_open_figures()
        return original(*args, **kwargs)

    show.__wrapped__ = original  # type: ignore[attr-defined]
    show.__doc__ = original.__doc__
    setattr(pyplot, "show", show)  # noqa: B010 (the module's stubs say it is a function)


def _patch_figure(module: ModuleType) -> None:
    if "Figure.show" in _state.originals:
        return
    figure_class = module.Figure
    original = figure_class.show
    _state.originals["Figure.show"] = original

    def show(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _state.report is not None:
            with guarded(WHAT):
                _report_figure(self)
        return original(self, *args, **kwargs)

    show.__wrapped__ = original  # type: ignore[attr-defined]
    show.__doc__ = original.__doc__
    figure_class.show = show


def _report_open_figures() -> None:
    from matplotlib import _pylab_helpers  # matplotlib is imported: pyplot is

    for manager in _pylab_helpers.Gcf.get_all_fig_managers():
        number = manager.num if isinstance(manager.num, int) else None
        _report_figure(manager.canvas.figure, number)


def _report_figure(figure: Any, number: int | None = None) -> None:
    from tunelab.sdk.logger import figure_plot

    report = _state.report
    if report is None:
        return
    if figure in _state.reported and not getattr(figure, "stale", True):
        return  # drawn (as our PNG) and untouched since: not rendered again
    title = _title(figure, number)[: plots.MAX_NAME_LENGTH]
    plot = figure_plot(title, SERIES, figure, 0)
    digest = hashlib.sha256(repr(plot["data"]).encode()).hexdigest()
    with _state.lock:
        if _state.reported.get(figure) == digest:
            return
        _state.reported[figure] = digest
        iteration = _state.shows.get(title, 0)
        _state.shows[title] = iteration + 1
    report({**plot, "iteration": iteration})


def _title(figure: Any, number: int | None) -> str:
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        return str(suptitle.get_text()).strip()
    for ax in figure.get_axes():
        if ax.get_title().strip():
            return str(ax.get_title()).strip()
    if number is None:
        number = getattr(figure, "number", None)
    if number is None:  # a Figure made without pyplot: numbered by first show
        with _state.lock:
            number = _state.numbers.setdefault(figure, len(_state.numbers) + 1)
    return f"Figure {number}"
