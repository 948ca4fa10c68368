"""Scalar points between the training loop and the wire: one flat buffer per series, cut
and packed into ``ScalarBatch`` series by the reporter's thread.

A series' buffer is a flat list, three items per point: value, iteration, wall-clock time.
The hot path costs one dict lookup and one ``list.extend`` of a 3-tuple; the tuple dies at
once, so a million points make no million long-lived objects for the garbage collector to
walk, and the sender takes a series' columns apart with C-level slices (``buffer[0::3]``).
Extending a list with a tuple runs no Python code, so another thread never sees a point
half-written.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable
from typing import Any

from tunelab.domain.scalar_wire import pack_floats_raw, pack_ints_raw, slice_series
from tunelab.domain.series_names import name_problem
from tunelab.domain.storable_text import storable_text
from tunelab.domain.system_metrics import is_system_metric
from tunelab.sdk.capture_warnings import warn

SeriesKey = tuple[str, str]
# A series' points as the sender cuts them: values, iterations, times.
Columns = tuple[list[Any], list[Any], list[float]]
Cut = dict[SeriesKey, Columns]
# Items per point in a flat buffer: value, iteration, time.
STRIDE = 3


def _dropped(point: tuple[Any, Any, float]) -> None:
    """Where the points of a series whose name cannot be stored go."""


class SeriesBuffers:
    """``extends[(metric, variant)]`` is the bound ``list.extend`` of that series' buffer;
    the hot path passes it ``(value, iteration, time)``."""

    def __init__(self) -> None:
        self.extends: dict[SeriesKey, Callable[[tuple[Any, Any, float]], None]] = {}
        self._lists: dict[SeriesKey, list[Any]] = {}
        self._lock = threading.Lock()
        # The highest iteration cut so far, the system metrics' own series aside (they are
        # reported against it): read by the resource monitor, kept off the hot path.
        self.last_iteration = 0

    def new_series(self, metric: str, variant: str) -> Callable[[tuple[Any, Any, float]], None]:
        """The extend for a series seen for the first time (two threads get the same).

        Its names are cleaned here, once (``storable_text``): names that clean alike share a
        series, and a series whose name is still refused (``series_names``) keeps no points
        (a capture warning says so) instead of making the server refuse every series sent
        with it."""
        key = (metric, variant)
        stored = (storable_text(metric), storable_text(variant))
        refused = [(part, why) for part, name in zip(("title", "series"), stored, strict=True)
                   if (why := name_problem(name)) is not None]  # fmt: skip
        with self._lock:
            known = key in self.extends
            if not known:
                if refused:
                    self.extends[key] = _dropped
                else:
                    buffer = self._lists.setdefault(stored, [])
                    self.extends[key] = buffer.extend
            extend = self.extends[key]
        if refused and not known:
            part, why = refused[0]
            shown = "/".join(name[:60] for name in stored)
            warn(f"the scalars {shown!r}", f"their {part} name {why}; their points are dropped")
        return extend

    def pending(self) -> int:
        """Points appended and not cut yet."""
        with self._lock:
            return sum(len(buffer) for buffer in self._lists.values()) // STRIDE

    def cut(self) -> Cut:
        """Take every point appended so far, as columns; appends racing with this stay for
        the next cut (they land past ``count``, and each slice runs without a thread switch)."""
        taken: Cut = {}
        with self._lock:
            for key, buffer in self._lists.items():
                count = len(buffer) // STRIDE * STRIDE
                if count:
                    taken[key] = (
                        buffer[0:count:STRIDE],
                        buffer[1:count:STRIDE],
                        buffer[2:count:STRIDE],
                    )
                    if not is_system_metric(key[0]):
                        self._saw_iteration(buffer[count - 2])
                    del buffer[:count]
        return taken

    def user_reported(self) -> bool:
        """Whether any series but the system metrics' was reported."""
        with self._lock:
            return any(not is_system_metric(metric) for metric, _ in self._lists)

    def _saw_iteration(self, iteration: Any) -> None:
        try:
            value = int(iteration)
        except (TypeError, ValueError, OverflowError):
            return  # a bad point, dropped when packed
        if value > self.last_iteration:
            self.last_iteration = value


def pack_batches(cut: Cut, max_points: int) -> tuple[list[list[dict[str, Any]]], int]:
    """The cut as batches of wire series of at most ``max_points`` points in all; also
    returns how many points were dropped because their value or iteration is not a number.

    Each series is packed whole, then split by byte offsets: a series spread over two
    batches costs two slices of bytes, not a second pass over its points."""
    batches: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    room = max_points
    dropped = 0
    for (metric, variant), columns in cut.items():
        series, bad = pack_series(metric, variant, *columns)
        dropped += bad
        count = len(series["iterations"]) // 8
        start = 0
        while start < count:
            take = min(room, count - start)
            batch.append(slice_series(series, start, start + take))
            start += take
            room -= take
            if room == 0:
                batches.append(batch)
                batch, room = [], max_points
    if batch:
        batches.append(batch)
    return batches, dropped


def pack_series(
    metric: str, variant: str, values: list[Any], iterations: list[Any], stamps: list[float]
) -> tuple[dict[str, Any], int]:
    """One wire series with little-endian array bytes (sent as a binary frame, written to
    the spool as base64), and the count of points dropped as not numbers."""
    dropped = 0
    try:
        series = _series(metric, variant, iterations, values, stamps)
    except (TypeError, ValueError, OverflowError):
        iterations, values, stamps, dropped = _clean(iterations, values, stamps)
        series = _series(metric, variant, iterations, values, stamps)
    return series, dropped


def _series(
    metric: str, variant: str, iterations: list[Any], values: list[Any], stamps: list[float]
) -> dict[str, Any]:
    return {
        "metric": str(metric),
        "variant": str(variant),
        "iterations": pack_ints_raw(iterations),
        "values": pack_floats_raw(values),
        "timestamps": pack_floats_raw(stamps),
    }


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
