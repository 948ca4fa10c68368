"""Debug samples from a run: ``report_image`` and ``report_media`` (``task.get_logger()``).

The call checks its arguments and copies what it was given (an array, a PIL image, a
stream's bytes), then returns: PNG encoding (Pillow), the upload to the task's output
destination and the sample's registration run on the task's upload thread. Each
title/series keeps its newest ``max_history`` iterations (default: ``file_history_size``
of the SDK config, 100): the server deletes the older records and their files.

Example::

    logger.report_image("masks", "val", iteration=3, image=mask_array)      # HxW, HxWx3/4
    logger.report_image("photos", "train", local_path="sample.jpg")
    logger.report_media("speech", "val", iteration=3, local_path="clip.wav")
    logger.report_media("report", "val", stream=io.StringIO(html), file_extension=".html")
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tunelab.domain import plots
from tunelab.domain.debug_samples import MAX_HISTORY, kind_of, mime_for
from tunelab.sdk.uploads import Uploads

# Characters of the title and of the series kept readable in a sample's folder name.
_READABLE = 100
PILLOW_NEEDED = (
    "report_image needs Pillow to encode an array or a PIL image as PNG: "
    "pip install 'tunelab[media]' (or pillow)"
)


class SampleHost(Protocol):
    """What the task gives the reporter: its id, destination, upload thread and queue."""

    @property
    def id(self) -> str: ...
    def _uploads(self) -> Uploads: ...
    def _destination_uri(self, kind: str, *parts: str) -> str: ...
    def _send(self, method: str, *args: Any) -> None: ...
    def _scratch_dir(self) -> Path: ...
    def _prepare(self, uri: str) -> None: ...
    def _storage_context(self) -> Any: ...


@dataclass(frozen=True)
class _Source:
    """What the call was given, copied: ``array`` (numpy, float scaled later), ``pil``, the
    ``data`` of a stream, or a ``path`` on disk; ``extension`` names the file's type."""

    extension: str
    array: Any = None
    pil: Any = None
    data: bytes | None = None
    path: Path | None = None


class DebugSamples:
    def __init__(self, host: SampleHost, history: int) -> None:
        self._host = host
        self._default_history = history
        self._pillow_checked = False
        self._prepared = False
        self._scratch: Path | None = None
        # What this run uploaded to a destination of its own, per title/series: the files
        # past the history are deleted here (the server deletes only its own store's).
        self._uploaded: dict[tuple[str, str], dict[int, str]] = {}

    def report_image(
        self,
        title: str,
        series: str,
        iteration: int | None,
        local_path: str | Path | None,
        image: Any,
        max_image_history: int | None,
        delete_after_upload: bool,
        url: str | None,
    ) -> None:
        _check_names("report_image", title, series)
        given = [x is not None for x in (local_path, image, url)]
        if sum(given) != 1:
            raise ValueError(
                f"report_image {title!r}/{series!r}: give exactly one of local_path, "
                "image (or matrix) and url"
            )
        if url is not None:
            self._register_url(title, series, iteration, str(url), max_image_history, "image")
            return
        if local_path is not None:
            source = _file_source(title, series, local_path)
        elif _is_pil(image):
            self._require_pillow()
            source = _Source(".png", pil=image.copy())
        else:
            self._require_pillow()
            source = _Source(".png", array=_checked_array(title, series, image))
        self._submit(title, series, iteration, source, max_image_history, delete_after_upload)

    def report_media(
        self,
        title: str,
        series: str,
        iteration: int | None,
        local_path: str | Path | None,
        stream: Any,
        url: str | None,
        file_extension: str | None,
        max_history: int | None,
        delete_after_upload: bool,
    ) -> None:
        _check_names("report_media", title, series)
        given = [x is not None for x in (local_path, stream, url)]
        if sum(given) != 1:
            raise ValueError(
                f"report_media {title!r}/{series!r}: give exactly one of local_path, stream and url"
            )
        if url is not None:
            self._register_url(title, series, iteration, str(url), max_history, None)
            return
        if local_path is not None:
            source = _file_source(title, series, local_path, file_extension)
        else:
            source = _stream_source(title, series, stream, file_extension)
        self._submit(title, series, iteration, source, max_history, delete_after_upload)

    # ----- plumbing -----------------------------------------------------------------------

    def _forget_older(self, title: str, series: str, at: int, uri: str, keep: int) -> None:
        """Delete this run's files of the series past its history, where the server cannot:
        a destination of the run's own (an offline run's files wait for ``sync``)."""
        if uri.startswith("tunelab://") or _is_offline(self._host):
            return
        mine = self._uploaded.setdefault((title, series), {})
        mine[at] = uri
        from tunelab.domain.debug_samples import keep_newest
        from tunelab.storage import delete

        _, dropped = keep_newest(mine, keep)
        for old in dropped:
            gone = mine.pop(old)
            if gone != uri:
                delete(gone, self._host._storage_context())

    def _require_pillow(self) -> None:
        if not self._pillow_checked:
            try:
                import PIL.Image  # noqa: F401 - loaded here, used on the upload thread
            except ImportError:
                raise ImportError(PILLOW_NEEDED) from None
            self._pillow_checked = True

    def _history(self, title: str, series: str, given: int | None) -> int:
        if given is None:
            return self._default_history
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ValueError(f"{title!r}/{series!r}: the history must be a positive whole number")
        return min(given, MAX_HISTORY)

    def _register_url(
        self,
        title: str,
        series: str,
        iteration: int | None,
        url: str,
        history: int | None,
        kind: str | None,
    ) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"{title!r}/{series!r}: url must start with http:// or https://")
        mime = mime_for(url.split("?", 1)[0])
        at = _iteration(title, series, iteration)
        body = _body(title, series, at, kind or kind_of(mime), mime, url, 0)
        body["max_history"] = self._history(title, series, history)
        self._host._send("post_debug_sample", self._host.id, body)

    def _submit(
        self,
        title: str,
        series: str,
        iteration: int | None,
        source: _Source,
        history: int | None,
        delete_after_upload: bool,
    ) -> None:
        keep = self._history(title, series, history)
        at = _iteration(title, series, iteration)
        host = self._host
        uri = host._destination_uri("debug_samples", *_file_parts(title, series, at, source))
        if not self._prepared:
            host._prepare(uri)  # the storage back end, loaded once on the caller's thread
            self._prepared = True

        def job() -> None:
            from tunelab.storage import upload

            if self._scratch is None:
                self._scratch = host._scratch_dir()
            path, owned = _materialize(source, self._scratch)
            stored = upload(path, uri, host._storage_context())
            mime = "image/png" if source.extension == ".png" else mime_for(source.extension)
            body = _body(title, series, at, kind_of(mime), mime, stored.uri, stored.size)
            body["max_history"] = keep
            host._send("post_debug_sample", host.id, body)
            if owned or delete_after_upload:
                path.unlink(missing_ok=True)
            self._forget_older(title, series, at, stored.uri, keep)

        label = f"debug sample {title!r}/{series!r} at iteration {at}"
        # Reported again before its upload started: only the newest is worth sending.
        host._uploads().submit(job, label=label, key=("debug sample", title, series, at))


def _is_offline(host: SampleHost) -> bool:
    from tunelab.sdk.offline import OfflineClient

    return isinstance(getattr(host, "_client", None), OfflineClient)


def _body(
    title: str, series: str, iteration: int, kind: str, mime: str, uri: str, size: int
) -> dict[str, Any]:
    return {
        "title": title,
        "series": series,
        "iteration": iteration,
        "kind": kind,
        "mime": mime,
        "uri": uri,
        "size": size,
    }


def _iteration(title: str, series: str, iteration: int | None) -> int:
    if iteration is None:
        return 0
    if isinstance(iteration, bool) or not isinstance(iteration, int):
        try:
            import numpy as np

            if isinstance(iteration, np.integer):
                return int(iteration)
        except ImportError:
            pass
        raise TypeError(f"{title!r}/{series!r}: iteration must be a whole number")
    return iteration


def _check_names(call: str, title: str, series: str) -> None:
    """As a plot's: at the call, before any file is read or sent."""
    name = f"{call} {title!r}/{series!r}"
    plots.check_name(name, "title", title)
    plots.check_name(name, "series", series)


def _file_parts(title: str, series: str, iteration: int, source: _Source) -> tuple[str, ...]:
    from tunelab.sdk.task_outputs import _safe

    # Two titles that read the same once made safe ("a b", "a_b") or cut short never share a
    # file; the folder's name stays within a file system's 255 bytes.
    digest = hashlib.sha1(f"{title}\0{series}".encode(), usedforsecurity=False).hexdigest()[:8]
    folder = f"{_safe(title)[:_READABLE]}.{_safe(series)[:_READABLE]}.{digest}"
    return folder, f"{iteration}{source.extension}"


def _is_pil(image: Any) -> bool:
    return any(
        cls.__module__.startswith("PIL.") and cls.__name__ == "Image" for cls in type(image).__mro__
    )


def _checked_array(title: str, series: str, image: Any) -> Any:
    """A copy of ``image`` with a shape PNG can hold: HxW (gray), HxWx1, HxWx3, HxWx4."""
    try:
        import numpy as np
    except ImportError:
        raise TypeError(
            f"report_image {title!r}/{series!r}: image must be a numpy array or a PIL image"
        ) from None
    array = np.array(image, copy=True)
    shape = array.shape
    if array.ndim not in (2, 3) or (array.ndim == 3 and shape[2] not in (1, 3, 4)):
        raise ValueError(
            f"report_image {title!r}/{series!r}: an image is HxW, HxWx1, HxWx3 or HxWx4, "
            f"not {shape}"
        )
    if 0 in shape[:2]:
        raise ValueError(f"report_image {title!r}/{series!r}: the image is empty ({shape})")
    if not (array.dtype == bool or np.issubdtype(array.dtype, np.number)):
        raise TypeError(f"report_image {title!r}/{series!r}: not an array of numbers")
    return array


def _file_source(
    title: str, series: str, local_path: str | Path, extension: str | None = None
) -> _Source:
    path = Path(local_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{title!r}/{series!r}: no file at {path}")
    return _Source(_extension(extension) or path.suffix.lower() or ".bin", path=path)


def _stream_source(title: str, series: str, stream: Any, extension: str | None) -> _Source:
    if not hasattr(stream, "read"):
        raise TypeError(f"report_media {title!r}/{series!r}: stream must have read()")
    data = stream.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"report_media {title!r}/{series!r}: stream gave neither bytes nor text")
    named = Path(str(getattr(stream, "name", ""))).suffix
    return _Source(_extension(extension) or named.lower() or ".bin", data=bytes(data))


def _extension(given: str | None) -> str:
    if not given:
        return ""
    text = str(given).strip().lower()
    return text if text.startswith(".") else "." + text


def _materialize(source: _Source, scratch: Path) -> tuple[Path, bool]:
    """The file to upload (``True``: ours, removed once uploaded)."""
    if source.path is not None:
        return source.path, False
    target = scratch / f"sample{source.extension}"
    if source.data is not None:
        target.write_bytes(source.data)
    else:
        target.write_bytes(_png(source))
    return target, True


def _png(source: _Source) -> bytes:
    from PIL import Image

    image = source.pil if source.pil is not None else Image.fromarray(_as_uint8(source.array))
    if image.mode not in ("L", "LA", "RGB", "RGBA", "P", "1", "I;16"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _as_uint8(array: Any) -> Any:
    """As ClearML shows it: floats in 0..1 scaled to 0..255, others clipped to 0..255."""
    import numpy as np

    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        finite = np.nan_to_num(array, nan=0.0, posinf=1.0, neginf=0.0)
        if finite.size and float(finite.max()) <= 1.0:
            finite = finite * 255.0
        return np.clip(np.rint(finite), 0, 255).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)
