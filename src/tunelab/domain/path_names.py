"""Names that become URL path segments: configuration objects, hyperparameter sections,
artifacts, queues, workers.

Pages and the SDK encode such a name whole (``segment`` below): its ``/`` becomes ``%2F``
and the name stays one segment. A few names stay dangerous even so: browsers resolve a
segment of ``.`` or ``..`` (``%2E%2E`` too) as a step up and treat ``\\`` as ``/``, and
anything between the browser and the server that decodes ``%2F`` (a proxy) would turn a
``../`` inside a name into a step up. Such names are refused where they are made, so every
stored name has a URL of its own.

Most of these names are one segment (no ``/`` at all). A configuration object's name may
hold ``/`` (``data/aug.yaml``) as long as no part of it is ``.`` or ``..``. Names that never
become a segment (project names such as ``vision/resnet``, parameter names) keep any ``/``.
"""

from __future__ import annotations

from urllib.parse import quote

from tunelab.domain.storable_text import storable_text

SEGMENT_RULE = "without '/', '\\' or control characters, and not '.' or '..'"
PATH_RULE = "without '\\' or control characters, and with no '.' or '..' between its '/'"


def is_segment_name(name: str) -> bool:
    """Whether ``name`` can be one URL path segment (its length is the caller's rule)."""
    return "/" not in name and is_path_name(name)


def is_path_name(name: str) -> bool:
    """Whether ``name`` can be a URL path segment once its ``/`` are encoded."""
    return (
        "\\" not in name
        and not any(part in (".", "..") for part in name.split("/"))
        and not any(_is_control(c) for c in name)
    )


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 32 or 127 <= code < 160


def segment(value: object) -> str:
    """``value`` as one URL path segment, every reserved character encoded, ``/`` and ``.``
    included: ``data/aug.yaml`` is ``data%2Faug%2Eyaml``. The server decodes it back.

    Pages use it as the ``segment`` filter (``/queues/{{ queue.name|segment }}``); the SDK
    for the names it puts in API paths.
    """
    # A NUL or half a surrogate pair as the SDK stores it (U+FFFD): the latter has no UTF-8
    # form, and a name the run stored so is found by the name the script gave.
    return quote(storable_text(value), safe="").replace(".", "%2E")


def key_path(key: str) -> str:
    """A file-store key (a relative path whose ``/`` are meant) with each part a segment."""
    return "/".join(segment(part) for part in key.split("/"))
