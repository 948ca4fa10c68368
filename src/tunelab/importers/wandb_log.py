"""The records of a W&B run file (``run-<id>.wandb``), read without W&B's sync service.

An offline W&B run writes every call (``wandb.init``, ``wandb.log``, ``wandb.finish``) as a
protobuf ``Record`` (``wandb.proto.wandb_internal_pb2``) into a LevelDB-style log, the
format ``wandb sync`` reads (W&B's ``wandb/sdk/internal/datastore.py`` in its releases up
to 0.19; later releases read it in their Go service):

- a 7-byte header: ``:W&B``, the magic ``0xBEE1`` (little-endian) and a version byte;
- 32 KiB blocks of chunks, each ``crc32 (uint32) | length (uint16) | type (uint8) | data``,
  where the CRC is zlib's CRC-32 of the type byte and the data, and the type says whether
  the chunk is a whole record (1) or its first (2), middle (3) or last (4) part. The tail
  of a block too short for a chunk header is padding.

A file cut short (a run killed while writing) ends at its last whole record.

Example::

    for record in read_records(Path("wandb/offline-run-.../run-1a2b3c.wandb")):
        print(record.WhichOneof("record_type"))
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.importers.runs import SourceError

_IDENT = b":W&B"
_MAGIC = 0xBEE1
_HEADER = struct.Struct("<4sHB")
_CHUNK = struct.Struct("<IHB")
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def record_class() -> Any:
    """W&B's ``Record`` protobuf class (from the ``wandb`` package)."""
    try:
        from wandb.proto import wandb_internal_pb2
    except ImportError:
        raise InvalidInput(
            "importing W&B runs needs its protobuf classes: pip install wandb"
        ) from None
    return wandb_internal_pb2.Record  # type: ignore[attr-defined]  # generated, no stubs


def read_records(path: Path) -> Iterator[Any]:
    """Each ``Record`` of the run file ``path``, in the order written."""
    record_type = record_class()
    for data in read_chunks(path):
        record = record_type()
        try:
            record.ParseFromString(data)
        except Exception as exc:  # protobuf's DecodeError, whichever implementation
            raise SourceError(f"{path.name}: a record does not parse: {exc}") from exc
        yield record


def read_chunks(path: Path) -> Iterator[bytes]:
    """The raw records of ``path``, whole (parts joined), CRCs checked."""
    data = path.read_bytes()
    if len(data) < _HEADER.size:
        raise SourceError(f"{path.name}: not a W&B run file (too short)")
    ident, magic, _version = _HEADER.unpack_from(data)
    if ident != _IDENT or magic != _MAGIC:
        raise SourceError(f"{path.name}: not a W&B run file (no :W&B header)")
    pos = _HEADER.size
    parts: list[bytes] | None = None
    while pos + _CHUNK.size <= len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _CHUNK.size:
            pos += room  # padding at a block's end
            continue
        crc, length, kind = _CHUNK.unpack_from(data, pos)
        if crc == 0 and length == 0 and kind == 0:
            pos += room  # zeros to the end of the block (a pre-allocated or cut file)
            continue
        start = pos + _CHUNK.size
        chunk = data[start : start + length]
        if len(chunk) < length:
            return  # cut short while writing: the whole records before it stand
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) != crc:
            raise SourceError(f"{path.name}: damaged at byte {pos} (checksum differs)")
        pos = start + length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            parts = [chunk]
        elif kind == _MIDDLE and parts is not None:
            parts.append(chunk)
        elif kind == _LAST and parts is not None:
            parts.append(chunk)
            yield b"".join(parts)
            parts = None
        else:
            raise SourceError(f"{path.name}: damaged at byte {pos} (chunk type {kind})")
