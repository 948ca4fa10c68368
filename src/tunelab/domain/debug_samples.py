"""Debug samples: the files a run shows per title, series and iteration (images, audio,
video, HTML pages, any file), as ClearML's ``report_image`` and ``report_media`` record them.

A sample is a record naming a file (``uri``) with its kind and MIME type; the file itself
lives in storage. Only the last ``history`` iterations of a title/series are kept.

Example::

    kind_of("audio/x-wav")                    # "audio"
    mime_for("clip.wav")                      # "audio/x-wav"
    keep_newest([1, 5, 3, 9], 2)              # ([5, 9], [1, 3]): kept, dropped
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable

KINDS = ("image", "audio", "video", "html", "file")
# ClearML's default for ``sdk.metrics.file_history_size``.
DEFAULT_HISTORY = 100
MAX_HISTORY = 100_000
MAX_URI_LENGTH = 2048
MAX_MIME_LENGTH = 255
# A URL sample names someone else's file: recorded, shown as a link, never deleted.
EXTERNAL_SCHEMES = ("http://", "https://")

_EXTRA_TYPES = {
    ".wav": "audio/x-wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".html": "text/html",
    ".htm": "text/html",
}


def mime_for(filename: str) -> str:
    """The MIME type a file's name implies (``application/octet-stream`` when none)."""
    dot = filename.rfind(".")
    extension = filename[dot:].lower() if dot >= 0 else ""
    if extension in _EXTRA_TYPES:
        return _EXTRA_TYPES[extension]
    guessed, _ = mimetypes.guess_type("x" + extension) if extension else (None, None)
    return guessed or "application/octet-stream"


def kind_of(mime: str) -> str:
    """The sample's kind from its MIME type: how the page shows it."""
    major = mime.split("/", 1)[0].lower()
    if major in ("image", "audio", "video"):
        return major
    if mime.lower().split(";", 1)[0].strip() in ("text/html", "application/xhtml+xml"):
        return "html"
    return "file"


def is_external(uri: str) -> bool:
    return uri.lower().startswith(EXTERNAL_SCHEMES)


def keep_newest(iterations: Iterable[int], history: int) -> tuple[list[int], list[int]]:
    """``(kept, dropped)``: the ``history`` greatest iterations and the rest, ascending."""
    ordered = sorted(set(iterations))
    cut = max(len(ordered) - history, 0)
    return ordered[cut:], ordered[:cut]
