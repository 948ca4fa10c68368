"""Where a TensorBoard tag lands: its title and series, named as ClearML names them.

The tag's last ``/`` splits title from series (scalar ``loss/train``: title ``loss``, series
``train``); the leading parts are joined with ``_`` (``a/b/c``: ``a_b`` / ``c``). A scalar tag
without ``/`` is its own title and series (``loss`` / ``loss``); a histogram's, image's or
text's is the series of its kind's title (``Histograms`` / ``weights``, ``Images`` /
``input``). Images and text keep up to three trailing parts in the series
(``a/b/c/d``: ``a`` / ``b_c_d``).

Two writers (``runs/train`` and ``runs/val``) writing the same tag stay apart: the graph goes
to the first; the second one's series (its title, for images and text) gains the part of its
log directory the first one's lacks: scalar ``loss`` / ``val: loss``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, eq=False)  # hashed by identity: a key of the per-event lookup
class Rule:
    """How one kind of summary names its graphs."""

    default_title: str | None  # None: the tag itself
    series_parts: int  # trailing parts of the tag that make the series
    fewer_parts: bool  # a shorter tag keeps at least one part for the title
    header: Literal["series_last", "series", "title"]  # where a second writer's name goes


SCALAR = Rule(None, 1, False, "series_last")
HISTOGRAM = Rule("Histograms", 1, False, "series")
IMAGE = Rule("Images", 3, True, "title")


def split_tag(tag: str, rule: Rule) -> tuple[str, str]:
    parts = tag.split("/")
    count = rule.series_parts
    if rule.fewer_parts and count > len(parts) - 1:
        count = max(1, len(parts) - 1)
    series = "_".join(parts[-count:])
    title = "_".join(parts[:-count]) or (tag if rule.default_title is None else rule.default_title)
    return title, series


class Names:
    """The graph each (rule, log directory, tag) reports to, for the life of one run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[Rule, str, str, str | None], tuple[str, str]] = {}
        self._owner: dict[tuple[str, str], str] = {}  # graph -> the log directory it belongs to

    def of(self, rule: Rule, logdir: str, tag: str, series: str | None = None) -> tuple[str, str]:
        """The (title, series) of ``tag`` written under ``logdir``; ``series`` given: the
        tag is the title whole (``add_scalars``' main tag, ``series`` one of its keys)."""
        key = (rule, logdir, tag, series)
        known = self._known.get(key)  # the hot path: a scalar seen before
        if known is not None:
            return known
        with self._lock:
            graph = (tag, series) if series is not None else split_tag(tag, rule)
            graph = self._claim(graph, rule, logdir)
            self._known[key] = graph
        return graph

    def _claim(self, graph: tuple[str, str], rule: Rule, logdir: str) -> tuple[str, str]:
        owner = self._owner.setdefault(graph, logdir)
        if owner == logdir:
            return graph
        other = set(owner.split("/"))
        header = "/".join(part for part in logdir.split("/") if part not in other) or logdir
        renamed = _with_header(graph, rule, header)
        if self._owner.setdefault(renamed, logdir) != logdir:
            renamed = _with_header(graph, rule, logdir)  # taken too: the whole directory
            self._owner.setdefault(renamed, logdir)
        return renamed


def _with_header(graph: tuple[str, str], rule: Rule, header: str) -> tuple[str, str]:
    title, series = graph
    if rule.header == "series_last":
        return title, f"{header}: {series}"
    if rule.header == "series":
        return title, f"{series} :{header}"
    return f"{title} {header}", series
