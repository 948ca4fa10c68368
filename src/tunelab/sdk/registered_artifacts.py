"""Registered artifacts: DataFrames kept in sync with the task while the run goes on
(ClearML's ``Task.register_artifact``).

The DataFrame itself is watched, not a copy: change it in place and the next sync uploads
its latest content as the same artifact (one artifact, replaced). A sync runs when it is
registered, on ``task.flush()``, every ``SYNC_PERIOD`` seconds (as ClearML does) and at
the end of the run; an unchanged DataFrame is not uploaded again.

Example::

    df = pd.DataFrame({"id": [], "loss": []})
    task.register_artifact("train samples", df, metadata={"split": "train"})
    df.loc[len(df)] = [17, 0.3]          # uploaded with the next sync
    task.unregister_artifact("train samples")   # one last sync, then no more
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tunelab.errors import InvalidInput

# Seconds between periodic syncs (ClearML's artifacts daemon waits the same).
SYNC_PERIOD = 300.0

Upload = Callable[[str, Any, dict[str, Any]], None]


@dataclass
class _Watched:
    frame: Any
    metadata: dict[str, Any]
    unique_by: list[str]
    digest: str = ""


class RegisteredArtifacts:
    """The watched DataFrames of one task; ``upload(name, frame, metadata)`` stores one."""

    def __init__(self, upload: Upload, period: float = SYNC_PERIOD) -> None:
        self._upload = upload
        self._period = period
        self._watched: dict[str, _Watched] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def __contains__(self, name: str) -> bool:
        return name in self._watched

    def register(
        self,
        name: str,
        frame: Any,
        metadata: dict[str, Any],
        uniqueness_columns: bool | Sequence[str],
    ) -> None:
        if not _is_dataframe(frame):
            raise InvalidInput(
                f"register_artifact {name!r}: only a pandas DataFrame can be registered "
                f"(got {type(frame).__name__}); use upload_artifact for other objects"
            )
        columns = [str(c) for c in frame.columns]
        if uniqueness_columns is True:
            unique_by = list(frame.columns)
        elif uniqueness_columns is False:
            unique_by = []
        else:
            unique_by = list(uniqueness_columns)
            missing = [c for c in unique_by if c not in set(frame.columns)]
            if missing:
                raise InvalidInput(
                    f"register_artifact {name!r}: uniqueness_columns {missing} are not "
                    f"columns of the DataFrame ({columns})"
                )
        with self._lock:
            self._watched[name] = _Watched(frame, dict(metadata), unique_by)
            self._sync_one(name)
        self._start()

    def unregister(self, name: str) -> None:
        """Stop watching ``name`` after uploading its latest content (the artifact stays)."""
        with self._lock:
            if name in self._watched:
                self._sync_one(name)
                del self._watched[name]

    def sync(self) -> None:
        """Upload every watched DataFrame whose content changed since its last upload."""
        with self._lock:
            for name in list(self._watched):
                self._sync_one(name)

    def _sync_one(self, name: str) -> None:
        watched = self._watched[name]
        digest = _digest(watched.frame)
        if digest == watched.digest:
            return
        frame = watched.frame
        rows = len(frame)
        unique = len(frame.drop_duplicates(subset=watched.unique_by)) if watched.unique_by else rows
        metadata = {**watched.metadata, "rows": str(rows), "unique rows": str(unique)}
        self._upload(name, frame, metadata)
        watched.digest = digest

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                # A daemon: the end of the run syncs once more, this thread needs no join.
                self._thread = threading.Thread(
                    target=self._periodic, name="tunelab-registered-artifacts", daemon=True
                )
                self._thread.start()

    def _periodic(self) -> None:
        while not self._wake.wait(self._period):
            try:
                self.sync()
            except Exception as exc:  # a failed sync must never end the user's run
                from tunelab.sdk.capture_warnings import warn

                warn("registered artifacts", exc)

    def stop(self) -> None:
        self._wake.set()


def _is_dataframe(obj: Any) -> bool:
    module = type(obj).__module__ or ""
    return module.startswith("pandas") and type(obj).__name__ == "DataFrame"


def _digest(frame: Any) -> str:
    """What the content is: its columns, index and values (a cheap hash, not the file's)."""
    import pandas as pd  # type: ignore[import-untyped]

    try:
        hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
    except TypeError:  # cells pandas cannot hash (lists, dicts): their text then
        hashed = frame.to_csv().encode()
    head = repr((list(frame.columns), [str(t) for t in frame.dtypes])).encode()
    return hashlib.sha256(head + hashed).hexdigest()
