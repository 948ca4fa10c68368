"""How a batch of scalar points travels from the SDK to the server.

A batch holds, per (metric, variant), three parallel arrays: iterations (int64),
values (float64) and wall-clock timestamps (float64, seconds since the epoch). On the
wire each array is little-endian bytes, base64-encoded inside a small JSON document, so
a million points cost a few megabytes and no per-number parsing. Plain JSON lists are
accepted too, for people posting by hand.

Example::

    {"batch_id": "5f0c...", "series": [
        {"metric": "loss", "variant": "train",
         "iterations": "AAAAAAAAAAA...", "values": "mpmZmZmZ...", "timestamps": "..."}]}
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import sys
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

_LITTLE = sys.byteorder == "little"
# The longest batch id the server takes (its 64-character column holds a 2-character prefix).
# The SDK's are 32 hex digits; a batch sent in halves (``halve_series``) adds a letter per
# halving.
MAX_BATCH_ID_LENGTH = 60


def pack_ints(values: Sequence[int]) -> str:
    return base64.b64encode(pack_ints_raw(values)).decode("ascii")


def pack_floats(values: Sequence[float]) -> str:
    return base64.b64encode(pack_floats_raw(values)).decode("ascii")


def unpack_bytes(text: str, itemsize: int = 8) -> bytes:
    """Decode one base64 array; raises ValueError when it is not whole 8-byte items."""
    # strict_mode validates in C; base64.b64decode(validate=True) runs a regex over the text
    # first, which was a quarter of the server's time per ingested point.
    raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    if len(raw) % itemsize:
        raise ValueError(f"array length {len(raw)} is not a multiple of {itemsize} bytes")
    return raw


# ----- the binary frame: the same batch without base64 or JSON around the arrays ------------
#
# b"TLS1" | header length (uint32, little-endian) | header (UTF-8 JSON) | arrays
# header: {"batch_id": "...", "series": [{"metric": ..., "variant": ..., "count": N}, ...]}
# arrays: for each series in order, iterations (int64), values, timestamps (float64), each
# N little-endian items. The SDK sends live batches this way; the server decodes the arrays
# straight from the request's bytes.

FRAME_MAGIC = b"TLS1"
FRAME_CONTENT_TYPE = "application/vnd.tunelab.scalar-frame"


def encode_frame(batch_id: str | None, series: Sequence[Mapping[str, Any]]) -> bytes:
    """A frame from series whose ``iterations``/``values``/``timestamps`` are raw bytes."""
    header = {
        "batch_id": batch_id,
        "series": [
            {"metric": s["metric"], "variant": s["variant"], "count": len(s["iterations"]) // 8}
            for s in series
        ],
    }
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    parts: list[bytes] = [FRAME_MAGIC, struct.pack("<I", len(head)), head]
    for s in series:
        parts.extend((s["iterations"], s["values"], s["timestamps"]))
    return b"".join(parts)


def split_frame(raw: bytes) -> tuple[Any, memoryview]:
    """The frame's parsed header and the bytes of its arrays; ValueError when malformed."""
    if raw[:4] != FRAME_MAGIC or len(raw) < 8:
        raise ValueError("not a scalar frame (it must start with TLS1 and a header length)")
    (size,) = struct.unpack_from("<I", raw, 4)
    if 8 + size > len(raw):
        raise ValueError(f"the header length {size} runs past the end of the frame")
    try:
        header = json.loads(raw[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"the frame's header is not UTF-8 JSON: {exc}") from None
    except RecursionError:
        # A real header nests four levels; the parser gives up near a thousand.
        raise ValueError("the frame's header is nested too deeply") from None
    return header, memoryview(raw)[8 + size :]


# ----- the read answer: series as read, in the same frame ---------------------------------
#
# A scalar read asked with ``Accept: application/vnd.tunelab.scalar-frame`` answers a frame of
# the same layout; its header names each series' task, total and downsampling and the read's
# cursors instead of a batch id:
# {"cursor": C, "cursors": {task: C}, "series": [{"task", "metric", "variant", "count",
#  "total", "downsampled"}, ...]}. The header is padded with spaces so that the arrays start on
# an 8-byte boundary (typed arrays and numpy can view them in place). NaN and infinities
# travel as themselves, where JSON answers null.


def encode_read_frame(header: Mapping[str, Any], arrays: Sequence[bytes]) -> bytes:
    """A read answer: ``header`` as above, then each series' iterations, values and
    timestamps as little-endian bytes, in the header's order."""
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    head += b" " * (-(8 + len(head)) % 8)
    return b"".join([FRAME_MAGIC, struct.pack("<I", len(head)), head, *arrays])


def decode_read_frame(raw: bytes) -> tuple[Any, list[tuple[list[int], list[float], list[float]]]]:
    """A read answer's header and, per series, its (iterations, values, timestamps) lists;
    ValueError when the arrays do not match the header's counts."""
    header, body = split_frame(raw)
    columns: list[tuple[list[int], list[float], list[float]]] = []
    offset = 0
    for s in header["series"]:
        size = 8 * int(s["count"])
        if offset + 3 * size > len(body):
            raise ValueError("the frame's arrays are shorter than its header says")
        its, vals, stamps = array("q"), array("d"), array("d")
        for arr in (its, vals, stamps):
            arr.frombytes(body[offset : offset + size])
            if not _LITTLE:
                arr.byteswap()
            offset += size
        columns.append((its.tolist(), vals.tolist(), stamps.tolist()))
    return header, columns


def pack_ints_raw(values: Sequence[int]) -> bytes:
    arr = array("q", values)
    if not _LITTLE:
        arr.byteswap()
    return arr.tobytes()


def pack_floats_raw(values: Sequence[float]) -> bytes:
    arr = array("d", values)
    if not _LITTLE:
        arr.byteswap()
    return arr.tobytes()


# ----- series with raw arrays: sliced by points, halved when the server finds a batch too large

_ARRAYS = (
    ("iterations", pack_ints_raw),
    ("values", pack_floats_raw),
    ("timestamps", pack_floats_raw),
)


def slice_series(series: Mapping[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Points ``start`` to ``stop`` of a series whose arrays are raw bytes (a whole-array
    slice of bytes is the same object, not a copy)."""
    head, tail = 8 * start, 8 * stop
    return {**series, **{name: series[name][head:tail] for name, _ in _ARRAYS}}


def halve_series(
    series: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """A batch's series in two halves of about equal size, arrays as raw bytes (whatever form
    they came in: bytes, base64 or lists); None for a single point, which cannot be halved."""
    if len(series) > 1:
        middle = len(series) // 2
        return [_raw(s) for s in series[:middle]], [_raw(s) for s in series[middle:]]
    if not series:
        return None
    whole = _raw(series[0])
    count = len(whole["iterations"]) // 8
    if count < 2:
        return None
    return [slice_series(whole, 0, count // 2)], [slice_series(whole, count // 2, count)]


def _raw(series: Mapping[str, Any]) -> dict[str, Any]:
    raw = dict(series)
    for name, pack in _ARRAYS:
        value = raw[name]
        if isinstance(value, str):
            raw[name] = unpack_bytes(value)
        elif not isinstance(value, bytes):
            raw[name] = pack(value)
    return raw
