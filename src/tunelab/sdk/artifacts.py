"""``Artifact``: one stored output of a task, as ``task.artifacts["name"]`` gives it.

Example::

    features = Task.get_task(project_name="demo", task_name="preprocess").artifacts["features"]
    df = features.get()                  # the DataFrame back
    path = features.get_local_copy()     # or the file, downloaded once and verified
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunelab.sdk.uploads import Progress


class Artifact:
    def __init__(self, data: Mapping[str, Any], storage: Any) -> None:
        self._data = dict(data)
        self._storage = storage  # a StorageContext, or a callable that returns one
        self._object: Any = _UNSET

    @property
    def name(self) -> str:
        return str(self._data["name"])

    @property
    def type(self) -> str:
        return str(self._data["type"])

    @property
    def format(self) -> str:
        return str(self._data["format"])

    @property
    def url(self) -> str:
        """Where the file is stored (``s3://...``, ``tunelab://...``, ``file://...``)."""
        return str(self._data["uri"])

    @property
    def size(self) -> int:
        return int(self._data["size"])

    @property
    def hash(self) -> str:
        """The stored file's sha256."""
        return str(self._data["sha256"])

    @property
    def preview(self) -> str:
        return str(self._data.get("preview") or "")

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._data.get("metadata") or {})

    @property
    def timestamp(self) -> float:
        return float(self._data["created"])

    def get_local_copy(self, extract_archive: bool = True) -> Path:
        """The stored file on this machine: downloaded once into the cache, checked against
        its sha256. A folder artifact is extracted unless ``extract_archive=False``."""
        from tunelab.sdk import artifact_formats
        from tunelab.storage import download

        path = download(
            self.url,
            self._context(),
            sha256=self.hash,
            progress=Progress("downloading", f"artifact {self.name!r}"),
        )
        if self.type == "folder" and extract_archive:
            folder: Path = artifact_formats.unpack(path, self.type, self.format)
            return folder
        return path

    def get(self) -> Any:
        """The object itself: a dict, DataFrame, array, image, unpickled object; for a file
        artifact its local path, for a folder the extracted folder."""
        if self._object is _UNSET:
            from tunelab.sdk import artifact_formats

            path = self.get_local_copy(extract_archive=False)
            needed = artifact_formats.reader_modules(self.type, self.format, self.metadata)
            _record_in_current_task(needed)
            self._object = artifact_formats.unpack(path, self.type, self.format)
        return self._object

    def _context(self) -> Any:
        return self._storage() if callable(self._storage) else self._storage

    def __repr__(self) -> str:
        return f"<Artifact {self.name!r} {self.type}/{self.format} {self.size} bytes>"


_UNSET = object()


def _record_in_current_task(modules: set[str]) -> None:
    """The running task's requirements name what reading this artifact needs: a re-run of
    the script by an agent must be able to read it too."""
    from tunelab.sdk.task import Task

    current = Task.current_task()
    if current is not None:
        current._require_packages(modules)
