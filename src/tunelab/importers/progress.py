"""What an import shows as it goes (a bar with counts and an ETA) and tells at its end.

``ImportProgress`` is the quiet base: the importers call it, the CLI passes ``BarProgress``
(click's progress bar on stderr, so the summary on stdout stays clean).

Example::

    progress = BarProgress("mlflow")
    summary = import_experiments(client, uri, progress=progress)
    click.echo(summary.text())
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import click


class ImportProgress:
    """Told of each run as it is imported; does nothing by itself."""

    def start(self, runs: int) -> None:
        """``runs`` source runs are about to be imported or skipped."""

    def run_started(self, label: str) -> None:
        """The run ``label`` is being written."""

    def points(self, count: int) -> None:
        """``count`` more scalar points of the current run are stored."""

    def run_done(self) -> None:
        """The current run is imported, or skipped."""

    def close(self) -> None:
        """The import ended (or stopped)."""


class BarProgress(ImportProgress):
    """click's progress bar: runs done of all, the ETA, and the current run's points."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._bar: Any = None
        self._label = ""
        self._points = 0

    def start(self, runs: int) -> None:
        self._bar = click.progressbar(
            length=runs,
            label=f"importing {runs} {self._source} run{'s' if runs != 1 else ''}",
            show_pos=True,
            show_eta=True,
            item_show_func=self._current,
            file=sys.stderr,
        )
        self._bar.__enter__()

    def run_started(self, label: str) -> None:
        self._label, self._points = label, 0
        self._redraw()

    def points(self, count: int) -> None:
        self._points += count
        self._redraw()

    def run_done(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def _redraw(self) -> None:
        if self._bar is not None:
            self._bar.update(0)

    def _current(self, _item: Any) -> str:
        if not self._label:
            return ""
        return f"{self._label} ({self._points:,} points)" if self._points else self._label


@dataclass
class Summary:
    """What an import did: each run imported (with its task), skipped or failed, and why."""

    imported: list[tuple[str, str, int]] = field(default_factory=list)  # label, task, points
    skipped: list[tuple[str, str]] = field(default_factory=list)  # label, why
    failed: list[tuple[str, str]] = field(default_factory=list)  # label, why
    models: list[tuple[str, str]] = field(default_factory=list)  # label, model id
    # Every source run that has its task now (imported by this import or before).
    tasks: dict[str, str] = field(default_factory=dict)  # source id -> task id

    def text(self) -> str:
        points = sum(p for _, _, p in self.imported)
        lines = [
            f"imported {len(self.imported)} run(s) ({points:,} scalar points), "
            f"skipped {len(self.skipped)}, failed {len(self.failed)}"
        ]
        if self.models:
            lines[0] += f"; imported {len(self.models)} model(s)"
        lines += [f"  imported {label} as task {task}" for label, task, _ in self.imported]
        lines += [f"  imported {label} as {model}" for label, model in self.models]
        lines += [f"  skipped {label}: {why}" for label, why in self.skipped]
        lines += [f"  failed {label}: {why}" for label, why in self.failed]
        return "\n".join(lines)
