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
import sys
from array import array
from collections.abc import Sequence

_LITTLE = sys.byteorder == "little"


def pack_ints(values: Sequence[int]) -> str:
    arr = array("q", values)
    if not _LITTLE:
        arr.byteswap()
    return base64.b64encode(arr.tobytes()).decode("ascii")


def pack_floats(values: Sequence[float]) -> str:
    arr = array("d", values)
    if not _LITTLE:
        arr.byteswap()
    return base64.b64encode(arr.tobytes()).decode("ascii")


def unpack_bytes(text: str, itemsize: int = 8) -> bytes:
    """Decode one base64 array; raises ValueError when it is not whole 8-byte items."""
    # strict_mode validates in C; base64.b64decode(validate=True) runs a regex over the text
    # first, which was a quarter of the server's time per ingested point.
    raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    if len(raw) % itemsize:
        raise ValueError(f"array length {len(raw)} is not a multiple of {itemsize} bytes")
    return raw
