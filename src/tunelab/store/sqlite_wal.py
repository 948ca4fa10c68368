"""Reading a SQLite write-ahead log as SQLite would, to tell a damaged one from a clean one.

Opening a database whose ``-wal`` file lost its end (a copy or restore cut short, a full
disk, a bad disk) silently drops the transactions it held: SQLite keeps the frames up to the
first one that does not check out and ignores the rest. This module checks the file before
anything opens the database (https://www.sqlite.org/fileformat2.html#walformat):

- the header: magic, version, and its checksum;
- the frames: whole (the file is the header plus a whole number of frames), and each frame of
  the current generation (the header's salts) carrying the running checksum of all before it;
- the wal-index (``-shm``) the last writer left: when it describes this generation, the
  number of committed frames it knows (``mxFrame``) must all be in the file, intact.

A writer killed mid-transaction leaves frames past the last commit: that is not damage, and
neither are frames of an older generation after the current ones (the log is reused without
being truncated). Checksums are computed with NumPy: about 10 ms per megabyte of log.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

WAL_MAGIC = (0x377F0682, 0x377F0683)  # checksums in little-endian / big-endian words
WAL_VERSION = 3007000
HEADER = 32
FRAME_HEADER = 24
_MASK = np.uint64(0xFFFFFFFF)
# Frames checksummed per NumPy call: bounds the memory a large log takes.
_FRAMES_PER_STEP = 256


@dataclass(frozen=True)
class WalReport:
    """``damage`` is None for a log SQLite would read whole, else a sentence saying what is
    wrong; ``frames``: whole frames of the current generation with valid checksums;
    ``committed``: how many of them end in a commit."""

    damage: str | None
    frames: int = 0
    committed: int = 0


def check_wal(wal: Path, shm: Path | None = None) -> WalReport:
    """Check the log ``wal`` (and the wal-index ``shm`` beside it, if any)."""
    size = wal.stat().st_size
    if size == 0:
        return WalReport(None)
    with wal.open("rb") as handle:
        header = handle.read(HEADER)
        if len(header) < HEADER:
            return WalReport(f"it is {size} bytes, shorter than its {HEADER}-byte header")
        magic, version, page_size, _seq, salt1, salt2, ck1, ck2 = struct.unpack(">8I", header)
        if magic not in WAL_MAGIC or version != WAL_VERSION:
            return WalReport("its header is not a SQLite WAL header")
        big_endian = magic == WAL_MAGIC[1]
        if _checksum(header[:24], (0, 0), big_endian) != (ck1, ck2):
            return WalReport("its header's checksum is wrong")
        if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
            return WalReport(f"its header names an impossible page size {page_size}")
        frame_size = FRAME_HEADER + page_size
        whole, partial = divmod(size - HEADER, frame_size)
        frames, committed, broken_at = _valid_frames(
            handle, whole, page_size, (salt1, salt2), (ck1, ck2), big_endian
        )
    expected = _committed_frames(shm, (salt1, salt2))
    if expected is not None and committed < expected:
        return WalReport(
            f"the last writer committed {expected} frames and only {committed} are intact "
            f"(the file has {whole} whole frames of {frame_size} bytes)",
            frames,
            committed,
        )
    if broken_at is not None:
        return WalReport(
            f"frame {broken_at + 1} of {whole} breaks the checksum chain and later frames "
            "of the same generation follow it",
            frames,
            committed,
        )
    if partial and expected is None:
        return WalReport(
            f"it ends with {partial} bytes of a cut frame: {size} bytes is not its "
            f"{HEADER}-byte header plus whole {frame_size}-byte frames",
            frames,
            committed,
        )
    return WalReport(None, frames, committed)


def _valid_frames(
    handle: BinaryIO,
    whole: int,
    page_size: int,
    salts: tuple[int, int],
    start: tuple[int, int],
    big_endian: bool,
) -> tuple[int, int, int | None]:
    """(frames valid in a row, frames up to the last commit among them, the index of a
    frame that breaks the chain while frames of the same generation follow, or None)."""
    read = handle.read
    frame_size = FRAME_HEADER + page_size
    running = start
    valid = committed = 0
    index = 0
    while index < whole:
        count = min(_FRAMES_PER_STEP, whole - index)
        block = read(count * frame_size)
        heads = [block[i * frame_size : i * frame_size + FRAME_HEADER] for i in range(count)]
        sums = _frame_sums(block, count, page_size, big_endian)
        for i, head in enumerate(heads):
            _page, commit_size, s1, s2, c1, c2 = struct.unpack(">6I", head)
            running = _chain(running, sums[i], page_size)
            if (s1, s2) != salts or running != (c1, c2):
                later = _same_generation_after(handle, index + i + 1, whole, frame_size, salts)
                return valid, committed, (index + i if later else None)
            valid += 1
            if commit_size:
                committed = valid
        index += count
    return valid, committed, None


def _same_generation_after(
    handle: BinaryIO, first: int, whole: int, frame_size: int, salts: tuple[int, int]
) -> bool:
    for index in range(first, whole):
        handle.seek(HEADER + index * frame_size + 8)
        if struct.unpack(">2I", handle.read(8)) == salts:
            return True
    return False


def _committed_frames(shm: Path | None, salts: tuple[int, int]) -> int | None:
    """``mxFrame`` of the wal-index when it describes this log's generation, else None.

    The wal-index header is kept twice (bytes 0-47 and 48-95, the machine's byte order); a
    writer killed while changing it leaves the copies different, and then it says nothing.
    """
    if shm is None or not shm.exists():
        return None
    with shm.open("rb") as handle:
        data = handle.read(96)
    if len(data) < 96 or data[:48] != data[48:96]:
        return None
    order = "<" if sys.byteorder == "little" else ">"
    version, _unused, _change, is_init, _big, _page = struct.unpack(order + "3I2BH", data[:16])
    mx_frame, _pages = struct.unpack(order + "2I", data[16:24])
    shm_salts = struct.unpack(order + "2I", data[32:40])
    if version != WAL_VERSION or not is_init:
        return None
    # The wal-index keeps the salts as read from the (big-endian) log header.
    if shm_salts != salts and shm_salts != tuple(_swap(s) for s in salts):
        return None
    return int(mx_frame)


def _swap(value: int) -> int:
    return int.from_bytes(value.to_bytes(4, "big"), "little")


# ----- the checksum: two 32-bit sums over pairs of words, chained from frame to frame -------
#
# For each pair (a, b): s0 += a + s1; s1 += b + s0 (mod 2**32). That is s' = M s + (a, a + b)
# with M = [[1, 1], [1, 2]], so a frame of n pairs maps s to M**n s + sum M**(n-k) u_k: the
# sum depends on the frame alone and is computed for many frames at once.


def _checksum(data: bytes, start: tuple[int, int], big_endian: bool) -> tuple[int, int]:
    words = struct.unpack((">" if big_endian else "<") + f"{len(data) // 4}I", data)
    s0, s1 = start
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


@cache
def _powers(pairs: int) -> npt.NDArray[np.uint64]:
    """M**(pairs-1-i) for i in range(pairs), shape (pairs, 4): m00, m01, m10, m11; and
    M**pairs last."""
    out = np.empty((pairs + 1, 4), dtype=np.uint64)
    m = (1, 0, 0, 1)
    for j in range(pairs + 1):
        out[pairs - 1 - j if j < pairs else pairs] = m
        a, b, c, d = m
        m = (
            (a + c) & 0xFFFFFFFF,
            (b + d) & 0xFFFFFFFF,
            (a + 2 * c) & 0xFFFFFFFF,
            (b + 2 * d) & 0xFFFFFFFF,
        )
    return out


def _frame_sums(
    block: bytes, count: int, page_size: int, big_endian: bool
) -> npt.NDArray[np.uint64]:
    """Per frame, the part of its checksum that does not depend on the frames before it."""
    frame_size = FRAME_HEADER + page_size
    dtype = np.dtype(">u4" if big_endian else "<u4")
    raw = np.frombuffer(block, dtype=np.uint8, count=count * frame_size).reshape(count, -1)
    # Checksummed: the frame header's first 8 bytes, then the page.
    covered = np.concatenate([raw[:, :8], raw[:, FRAME_HEADER:]], axis=1)
    words = covered.copy().view(dtype).astype(np.uint64).reshape(count, -1, 2)
    a = words[:, :, 0]
    ab = a + words[:, :, 1]
    pw = _powers(words.shape[1])[:-1]
    with np.errstate(over="ignore"):
        c0 = (a * pw[:, 0] + ab * pw[:, 1]).sum(axis=1, dtype=np.uint64)
        c1 = (a * pw[:, 2] + ab * pw[:, 3]).sum(axis=1, dtype=np.uint64)
    return np.stack([c0 & _MASK, c1 & _MASK], axis=1)


def _chain(
    running: tuple[int, int], frame_sum: npt.NDArray[np.uint64], page_size: int
) -> tuple[int, int]:
    m00, m01, m10, m11 = (int(x) for x in _powers((8 + page_size) // 8)[-1])
    s0, s1 = running
    return (
        (m00 * s0 + m01 * s1 + int(frame_sum[0])) & 0xFFFFFFFF,
        (m10 * s0 + m11 * s1 + int(frame_sum[1])) & 0xFFFFFFFF,
    )
