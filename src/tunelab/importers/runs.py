"""The loop every importer shares: each source run skipped, or written whole to one task.

A run is written between ``Ledger.begin`` and ``Ledger.finish``; an import stopped in
between (killed, the server away) leaves a partial task that the next import replaces, so
a run is never stored twice. A run the source cannot give (``SourceError``: a damaged file,
a folder without events), or that the server refuses (a 4xx: a name or value past its
limits), is reported as failed and the import goes on; no answer or a 5xx stops it.

Example::

    summary = import_runs(client, runs, plan=plan_of, write=write_run, progress=progress)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tunelab.errors import TunelabError
from tunelab.importers.ledger import Ledger
from tunelab.importers.progress import ImportProgress, Summary
from tunelab.importers.writer import RunWriter
from tunelab.sdk.transport import ApiClient

R = TypeVar("R")


class SourceError(Exception):
    """A source run that cannot be read; the import reports it and goes on."""


@dataclass(frozen=True)
class RunPlan:
    """The task a source run becomes: ``source_id`` is recorded on it, ``body`` creates it."""

    source_id: str
    label: str
    body: dict[str, Any]


@dataclass(frozen=True)
class RunEnd:
    """How the source run ended (times in seconds since the epoch, None: unknown)."""

    status: str = "completed"
    started: float | None = None
    completed: float | None = None
    reason: str = ""


def import_runs(
    client: ApiClient,
    runs: Sequence[R],
    *,
    plan: Callable[[R], RunPlan],
    write: Callable[[R, RunWriter], RunEnd],
    progress: ImportProgress | None = None,
) -> Summary:
    """Import each of ``runs`` not imported already; ``write`` sends one run's data."""
    progress = progress or ImportProgress()
    # Inputs (hyperparameters, configuration) are written while the task runs, as by the
    # run's own SDK.
    client = client.as_run_client()
    ledger = Ledger(client)
    summary = Summary()
    progress.start(len(runs))
    try:
        for run in runs:
            planned = plan(run)
            done = ledger.complete(planned.source_id)
            if done is not None:
                summary.skipped.append((planned.label, f"imported already as task {done}"))
                summary.tasks[planned.source_id] = done
                progress.run_done()
                continue
            progress.run_started(planned.label)
            task: dict[str, Any] | None = None
            try:
                task = ledger.begin(planned.source_id, planned.body)
                writer = RunWriter(client, task, on_points=progress.points)
                end = write(run, writer)
                writer.close()
            except (SourceError, TunelabError) as exc:
                if isinstance(exc, TunelabError) and not 400 <= exc.status < 500:
                    raise  # the server is away or failing: stop here, resume later
                # This run's data cannot be read, or the server refuses it (a value too long
                # for it): the run is left out whole and the others go on.
                if task is not None:
                    ledger.discard(str(task["id"]))
                message = exc.message if isinstance(exc, TunelabError) else str(exc)
                summary.failed.append((planned.label, message))
                progress.run_done()
                continue
            ledger.finish(
                writer.task_id,
                end.status,
                started=end.started,
                completed=end.completed,
                reason=end.reason,
            )
            summary.imported.append((planned.label, writer.task_id, writer.points))
            summary.tasks[planned.source_id] = writer.task_id
            progress.run_done()
    finally:
        progress.close()
    return summary
