"""An MLflow run's metric histories, read in bulk rather than as a Python object per point.

MLflow's client builds a ``Metric`` per point (a million points cost ~17 s), so where the
store can be read directly, the import reads it directly:

- a file store (``file:`` or a path): ``<root>/<experiment>/<run>/metrics/<key>`` holds a
  line per point, ``timestamp value step`` (a dataset adds two fields; a store older than
  steps has two), parsed by numpy in one call per metric;
- a SQL store (``sqlite:///``, ``postgresql://``, ``mysql://``, ``mssql://``): MLflow's
  ``metrics`` table, read a metric at a time off the driver's cursor, where a NaN is stored
  as 0 with ``is_nan`` set and an infinity as the largest float of its sign (MLflow's
  ``sanitize_metric_value``);
- a tracking server (``http(s)://``, ``databricks``): MLflow's client, whose
  ``get_metric_history`` pages through every point. The bulk endpoint
  (``get-history-bulk-interval``) samples a history, so it cannot give all of it.

Each way reads a history as MLflow's client gives it: the same points (duplicates kept, as
stored), in the same order (a file's own; a SQL store's by timestamp, step, value), NaN and
infinities as the client reads them. One exception: a file store line written with a
dataset keeps its step, which MLflow's file reader drops (it reads such a line's step as 0).

Example::

    with history_reader(source, "sqlite:///mlflow.db") as read:
        for key, history in read(run).items():
            ...
"""

from __future__ import annotations

import contextlib
import functools
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from tunelab.importers.runs import SourceError

SQL_DIALECTS = frozenset({"sqlite", "postgresql", "mysql", "mssql"})
_ROW = np.dtype([("timestamp", "<i8"), ("value", "<f8"), ("step", "<i8")])
_SQL_ROW = np.dtype([("value", "<f8"), ("timestamp", "<i8"), ("step", "<i8"), ("is_nan", "?")])


class History(NamedTuple):
    """One metric's points: steps (int64), values (float64), timestamps (int64, ms)."""

    steps: np.ndarray[Any, np.dtype[np.int64]]
    values: np.ndarray[Any, np.dtype[np.float64]]
    timestamps: np.ndarray[Any, np.dtype[np.int64]]


Reader = Callable[[Any], dict[str, History]]
"""``read(run)``: ``{metric key: History}`` for each key of ``run.data.metrics``, sorted."""


def run_search(source: Any, tracking_uri: str) -> Callable[..., Any]:
    """``search(experiment_ids, max_results=, order_by=, page_token=)``: active runs, as
    MLflow's client ``search_runs`` finds them.

    On a file store, MLflow fills each run's latest metric values by parsing every point of
    every history (~15 s a million, and again for each ``get_run``): there the search runs
    on MLflow's own file store with that one step left out, its runs' metrics their keys
    (valued NaN: the import reads each history whole). Should MLflow rename the step, the
    search is as slow as the client's, never different."""
    root = file_root(tracking_uri)
    if root is None:
        return source.search_runs  # type: ignore[no-any-return]
    from mlflow.entities import Metric, ViewType
    from mlflow.store.tracking import file_store

    base: Any = file_store.FileStore  # MLflow's code is untyped

    class KeysOnly(base):  # type: ignore[misc]
        def _get_all_metrics(self, run_info: Any) -> list[Any]:
            _, keys = self._get_run_files(run_info, "metric")
            return [Metric(key, np.nan, 0, 0) for key in keys]

    store = KeysOnly(str(root))

    def search(experiment_ids: list[str], **page: Any) -> Any:
        return store.search_runs(experiment_ids, "", ViewType.ACTIVE_ONLY, **page)

    return search


def file_root(tracking_uri: str) -> Path | None:
    """A file store's folder (``file:`` URI or path); None for another store."""
    scheme = urllib.parse.urlparse(tracking_uri).scheme
    if scheme != "file" and (scheme or "://" in tracking_uri or tracking_uri == "databricks"):
        return None
    from mlflow.utils import file_utils

    to_path: Any = file_utils.local_file_uri_to_path  # MLflow's code is untyped
    return Path(to_path(tracking_uri))


@contextlib.contextmanager
def history_reader(source: Any, tracking_uri: str) -> Iterator[Reader]:
    """The fastest reader for ``tracking_uri``'s store; ``source`` is its ``MlflowClient``."""
    scheme = urllib.parse.urlparse(tracking_uri).scheme
    if scheme.partition("+")[0] in SQL_DIALECTS:
        import sqlalchemy as sa

        engine = sa.create_engine(tracking_uri, poolclass=sa.pool.NullPool)
        try:
            yield functools.partial(sql_histories, engine)
        finally:
            engine.dispose()
    elif (root := file_root(tracking_uri)) is not None:
        yield functools.partial(file_histories, root)
    else:
        yield functools.partial(client_histories, source)


def client_histories(source: Any, run: Any) -> dict[str, History]:
    """Through MLflow's client: any store, a Python object per point."""
    found = {}
    for key in sorted(run.data.metrics):
        points = source.get_metric_history(run.info.run_id, key)  # every page
        found[key] = History(
            np.fromiter((m.step for m in points), np.int64, len(points)),
            np.fromiter((m.value for m in points), np.float64, len(points)),
            np.fromiter((m.timestamp for m in points), np.int64, len(points)),
        )
    return found


def file_histories(root: Path, run: Any) -> dict[str, History]:
    """From a file store's metric files (the run's folder is where MLflow's file store keeps
    it: under its experiment's, which a deleted experiment's is moved to ``.trash``)."""
    experiment, run_id = run.info.experiment_id, run.info.run_id
    folders = (root / experiment / run_id, root / ".trash" / experiment / run_id)
    folder = next((f for f in folders if (f / "meta.yaml").is_file()), None)
    if folder is None:
        raise SourceError(f"run {run_id}: no folder {folders[0]} in the file store")
    metrics = (folder / "metrics").resolve()
    found = {}
    for key in sorted(run.data.metrics):
        path = (metrics / key).resolve()
        if not path.is_relative_to(metrics):
            raise SourceError(f"run {run_id}: metric {key!r} names a file outside the run")
        found[key] = read_metric_file(path)
    return found


def read_metric_file(path: Path) -> History:
    """A file store's metric file; a missing or empty one is an empty history."""
    if not path.is_file() or path.stat().st_size == 0:
        return _history(np.empty(0, _ROW))
    try:
        rows = np.loadtxt(path, dtype=_ROW, usecols=(0, 1, 2), delimiter=" ", comments=None)
    except ValueError:  # lines of two fields (no step), or a damaged file
        rows = _parse_lines(path)
    return _history(np.atleast_1d(rows))


def _parse_lines(path: Path) -> np.ndarray[Any, np.dtype[np.void]]:
    """Line by line, as MLflow's file store reads them (a line without a step is step 0)."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.strip().split(" ")
        try:
            if len(parts) not in (2, 3, 5):
                raise ValueError(f"{len(parts)} fields, not 2, 3 or 5")
            step = int(parts[2]) if len(parts) > 2 else 0
            rows.append((int(parts[0]), float(parts[1]), step))
        except ValueError as exc:
            raise SourceError(f"metric file {path}, line {number}: {exc}") from None
    return np.array(rows, dtype=_ROW)


def _history(rows: np.ndarray[Any, np.dtype[np.void]]) -> History:
    return History(
        np.ascontiguousarray(rows["step"]),
        np.ascontiguousarray(rows["value"]),
        np.ascontiguousarray(rows["timestamp"]),
    )


def sql_histories(engine: Any, run: Any) -> dict[str, History]:
    """From a SQL store's ``metrics`` table, MLflow's own query per metric (its filter, its
    order: the same points in the same order as its client, whatever the key's collation),
    rows read straight off the database driver's cursor into arrays."""
    import sqlalchemy as sa

    m = sa.table(
        "metrics",
        *(sa.column(name) for name in ("key", "value", "timestamp", "step", "is_nan", "run_uuid")),
    )
    query = (
        sa.select(m.c.value, m.c.timestamp, m.c.step, m.c.is_nan)
        .where(m.c.run_uuid == sa.bindparam("run"), m.c.key == sa.bindparam("key"))
        .order_by(m.c.timestamp, m.c.step, m.c.value)
    )
    compiled = query.compile(dialect=engine.dialect)
    found = {}
    with engine.connect() as conn:
        # The driver's own cursor: SQLAlchemy's row objects would cost more than the rows.
        cursor = conn.connection.driver_connection.cursor()
        try:
            for key in sorted(run.data.metrics):
                named = compiled.construct_params({"run": run.info.run_id, "key": key})
                params: Any = named
                if compiled.positional:  # the driver's style: ``?`` (SQLite) or ``%(name)s``
                    params = [named[name] for name in compiled.positiontup or ()]
                cursor.execute(str(compiled), params)
                rows = np.fromiter(map(tuple, cursor), _SQL_ROW)
                values = np.where(rows["is_nan"], np.nan, rows["value"])
                found[key] = History(
                    np.ascontiguousarray(rows["step"]),
                    values,
                    np.ascontiguousarray(rows["timestamp"]),
                )
        finally:
            cursor.close()
    return found
