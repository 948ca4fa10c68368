"""A task's debug samples: one record per (title, series, iteration) naming a stored file.

Registering a sample again at its iteration replaces the record; with ``history`` only the
newest iterations of its title/series are kept. What a change leaves unnamed (a replaced
file, the pruned ones) is answered as URIs for the caller to delete from storage, after the
transaction has committed (``server.file_cleanup``). URL samples name someone else's file
and are never offered for deletion.

Example::

    register_sample(conn, task_id, {"title": "masks", "series": "val", "iteration": 3,
                    "kind": "image", "mime": "image/png", "uri": "tunelab://...", "size": 91},
                    history=2)                       # URIs no record names any more
    list_samples(conn, task_id, last_only=True)      # each series at its newest iteration
    sample_iterations(conn, task_id)[("masks", "val")]   # [2, 3]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tunelab.domain.debug_samples import is_external, keep_newest
from tunelab.errors import NotFound
from tunelab.store.lookup import now, require_task
from tunelab.store.schema import task_debug_samples, tasks
from tunelab.store.series_query import narrowed
from tunelab.store.stored_files import unreferenced
from tunelab.store.task_activity import database_now

_S = task_debug_samples.c


@dataclass(frozen=True)
class StoredSample:
    title: str
    series: str
    iteration: int
    kind: str
    mime: str
    uri: str
    size: int
    created: float

    @property
    def external(self) -> bool:
        """A URL sample: shown as a link, never served or deleted by the server."""
        return is_external(self.uri)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "series": self.series,
            "iteration": self.iteration,
            "kind": self.kind,
            "mime": self.mime,
            "uri": self.uri,
            "size": self.size,
            "created": self.created,
        }


def register_sample(
    conn: sa.Connection, task_id: str, sample: Mapping[str, Any], history: int | None = None
) -> list[str]:
    """Record ``sample`` (replacing the one at its title, series and iteration); with
    ``history``, drop all but that many newest iterations of its title/series. Answers the
    URIs of the files no record names any more."""
    require_task(conn, task_id)
    key = (
        _S.task_id == task_id,
        _S.title == sample["title"],
        _S.series == sample["series"],
    )
    previous = conn.execute(
        sa.select(_S.uri).where(*key, _S.iteration == sample["iteration"]).with_for_update()
    ).scalar_one_or_none()
    values = {
        "kind": sample["kind"],
        "mime": sample["mime"],
        "uri": sample["uri"],
        "size": sample["size"],
        "created": now(),
    }
    if previous is None:
        conn.execute(
            task_debug_samples.insert().values(
                task_id=task_id,
                title=sample["title"],
                series=sample["series"],
                iteration=sample["iteration"],
                **values,
            )
        )
        gone = []
    else:
        conn.execute(
            task_debug_samples.update()
            .where(*key, _S.iteration == sample["iteration"])
            .values(**values)
        )
        gone = [previous] if previous != sample["uri"] else []
    if history is not None:
        found = conn.execute(sa.select(_S.iteration).where(*key)).scalars()
        _, dropped = keep_newest(found, history)
        if dropped:
            doomed = sa.and_(*key, _S.iteration.in_(dropped))
            gone += conn.execute(sa.select(_S.uri).where(doomed)).scalars()
            conn.execute(task_debug_samples.delete().where(doomed))
    conn.execute(
        tasks.update()
        .where(tasks.c.id == task_id)
        .values(last_update=now(), last_active=database_now(conn))
    )
    return _deletable(conn, gone)


def list_samples(
    conn: sa.Connection,
    task_id: str,
    *,
    title: str | None = None,
    series: str | None = None,
    iteration: int | None = None,
    last_only: bool = False,
) -> list[StoredSample]:
    """The task's samples by title, series, iteration; ``last_only`` keeps each series at
    its newest iteration. Unknown task ids simply have none."""
    query = sa.select(
        _S.title, _S.series, _S.iteration, _S.kind, _S.mime, _S.uri, _S.size, _S.created
    ).where(_S.task_id == task_id)
    query = narrowed(
        query, task_debug_samples, task_id,
        title=title, series=series, iteration=iteration, last_only=last_only,
    )  # fmt: skip
    return [StoredSample(*row) for row in conn.execute(query)]


def sample_iterations(conn: sa.Connection, task_id: str) -> dict[tuple[str, str], list[int]]:
    """``{(title, series): [iterations, ascending]}``."""
    query = (
        sa.select(_S.title, _S.series, _S.iteration)
        .where(_S.task_id == task_id)
        .order_by(_S.title, _S.series, _S.iteration)
    )
    found: dict[tuple[str, str], list[int]] = {}
    for title, series, iteration in conn.execute(query):
        found.setdefault((title, series), []).append(iteration)
    return found


def read_sample(
    conn: sa.Connection, task_id: str, title: str, series: str, iteration: int | None = None
) -> StoredSample:
    """One sample at ``iteration`` (None: its newest); NotFound when there is none."""
    found = list_samples(
        conn, task_id, title=title, series=series, iteration=iteration, last_only=iteration is None
    )
    if not found:
        at = "" if iteration is None else f" at iteration {iteration}"
        raise NotFound(f"no debug sample {title!r}/{series!r}{at} in task {task_id!r}")
    return found[0]


def delete_task_samples(conn: sa.Connection, task_id: str) -> list[str]:
    """Forget a task's samples (reset, delete); answers the URIs of their files."""
    uris = list(conn.execute(sa.select(_S.uri).where(_S.task_id == task_id)).scalars())
    conn.execute(task_debug_samples.delete().where(_S.task_id == task_id))
    return [uri for uri in uris if not is_external(uri)]


def _deletable(conn: sa.Connection, uris: Iterable[str]) -> list[str]:
    """The URIs that are ours to delete and that no record (sample, artifact, model) names."""
    return unreferenced(conn, [uri for uri in uris if uri and not is_external(uri)])
