"""Scalar points between the training loop and the wire: one buffer per series, cut and
packed into ``ScalarBatch`` series by the reporter's thread.

Keeping a list per (metric, variant) costs the hot path one dict lookup, and saves the
sender from grouping point by point: a series' columns come out with C-level ``map``
calls, so packing costs a fraction of a microsecond per point.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from tunelab.domain.scalar_wire import pack_floats_raw, pack_ints_raw

# One point as the hot path stores it: value, iteration, wall-clock time.
Point = tuple[float, int, float]
SeriesKey = tuple[str, str]
Cut = dict[SeriesKey, list[Point]]

_VALUE, _ITERATION, _TIME = itemgetter(0), itemgetter(1), itemgetter(2)


class SeriesBuffers:
    """``appends[(metric, variant)]`` is the bound ``list.append`` of that series' buffer."""

    def __init__(self) -> None:
        self.appends: dict[SeriesKey, Callable[[Point], None]] = {}
        self._lists: dict[SeriesKey, list[Point]] = {}
        self._lock = threading.Lock()

    def new_series(self, metric: str, variant: str) -> Callable[[Point], None]:
        """The append for a series seen for the first time (two threads get the same)."""
        key = (metric, variant)
        with self._lock:
            if key not in self.appends:
                buffer: list[Point] = []
                self._lists[key] = buffer
                self.appends[key] = buffer.append
            return self.appends[key]

    def pending(self) -> int:
        with self._lock:
            return sum(len(buffer) for buffer in self._lists.values())

    def cut(self) -> Cut:
        """Take every point appended so far; appends racing with this stay for the next cut."""
        taken: Cut = {}
        with self._lock:
            for key, buffer in self._lists.items():
                count = len(buffer)
                if count:
                    taken[key] = buffer[:count]
                    del buffer[:count]
        return taken


def cut_size(cut: Cut) -> int:
    return sum(len(points) for points in cut.values())


def pack_batches(cut: Cut, max_points: int) -> tuple[list[list[dict[str, Any]]], int]:
    """The cut as batches of wire series of at most ``max_points`` points in all; also
    returns how many points were dropped because their value or iteration is not a number."""
    batches: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    room = max_points
    dropped = 0
    for (metric, variant), points in cut.items():
        start = 0
        while start < len(points):
            part = points[start : start + room]
            start += len(part)
            room -= len(part)
            series, bad = pack_series(metric, variant, part)
            dropped += bad
            if series is not None:
                batch.append(series)
            if room == 0:
                batches.append(batch)
                batch, room = [], max_points
    if batch:
        batches.append(batch)
    return batches, dropped


def pack_series(
    metric: str, variant: str, points: list[Point]
) -> tuple[dict[str, Any] | None, int]:
    """One series (little-endian array bytes: sent as a binary frame, written to the spool
    as base64) and the count of points dropped."""
    iterations = list(map(_ITERATION, points))
    values = list(map(_VALUE, points))
    stamps = list(map(_TIME, points))
    dropped = 0
    try:
        packed = pack_ints_raw(iterations), pack_floats_raw(values), pack_floats_raw(stamps)
    except (TypeError, ValueError, OverflowError):
        iterations, values, stamps, dropped = _clean(iterations, values, stamps)
        if not iterations:
            return None, dropped
        packed = pack_ints_raw(iterations), pack_floats_raw(values), pack_floats_raw(stamps)
    series = {
        "metric": str(metric),
        "variant": str(variant),
        "iterations": packed[0],
        "values": packed[1],
        "timestamps": packed[2],
    }
    return series, dropped


def _clean(
    iterations: list[Any], values: list[Any], stamps: list[float]
) -> tuple[list[int], list[float], list[float], int]:
    """The slow path, for odd types (float iterations, tensors, None): keep what is a number."""
    kept_i: list[int] = []
    kept_v: list[float] = []
    kept_t: list[float] = []
    for iteration, value, ts in zip(iterations, values, stamps, strict=True):
        try:
            whole = _as_iteration(iteration)
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            continue
        if -(2**63) <= whole < 2**63:
            kept_i.append(whole)
            kept_v.append(number)
            kept_t.append(ts)
    return kept_i, kept_v, kept_t, len(iterations) - len(kept_i)


def _as_iteration(value: Any) -> int:
    try:
        return operator.index(value)
    except TypeError:
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"iteration {value!r} is not a whole number") from None
        return int(number)
