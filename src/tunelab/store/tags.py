"""Tags, as tasks and models carry them: a set of short texts, stored sorted."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tunelab.errors import InvalidInput

MAX_TAG_LENGTH = 256


def clean_tags(value: Any) -> list[str]:
    """The distinct tags of ``value``, sorted; InvalidInput for anything but short texts."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInput("tags must be a list of texts")
    tag_set = set()
    for tag in value:
        if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput(f"a tag must be 1 to {MAX_TAG_LENGTH} characters, got {tag!r}")
        tag_set.add(tag)
    return sorted(tag_set)
