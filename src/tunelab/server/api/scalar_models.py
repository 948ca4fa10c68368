"""Request bodies of the scalar and console routes, and decoding a batch into arrays.

Pydantic checks the shape; ``decode_batch`` turns each array (a JSON list or base64 of
little-endian int64/float64, see ``tunelab.domain.scalar_wire``) into NumPy, and refuses the
whole batch, naming the series and the problem, before anything is stored.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
)

from tunelab.domain import times
from tunelab.domain.scalar_wire import MAX_BATCH_ID_LENGTH, split_frame, unpack_bytes
from tunelab.domain.series_names import MAX_NAME_LENGTH
from tunelab.errors import InvalidInput, PayloadTooLarge
from tunelab.store.scalars import ScalarBatch, SeriesPoints


def _storable_name(value: str) -> str:
    # PostgreSQL text holds neither NUL nor unpaired surrogates; refuse them on both stores.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Name = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(_storable_name),
]
BatchId = Annotated[
    str, Field(min_length=1, max_length=MAX_BATCH_ID_LENGTH), AfterValidator(_storable_name)
]
# Strict: true/false or "3" in a number array is a mistake, not a number.
NumberArray = str | list[StrictInt | StrictFloat]


class SeriesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Name
    variant: Name
    iterations: NumberArray
    values: NumberArray
    timestamps: NumberArray


class ScalarBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: BatchId | None = None
    series: list[SeriesIn] = Field(min_length=1)


# Epoch seconds a calendar can show (tunelab.domain.times): the console page renders each.
LineTime = Annotated[float, Field(ge=times.EARLIEST, le=times.LATEST, allow_inf_nan=False)]


class ConsoleLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream: Literal["stdout", "stderr", "log"]
    text: str
    # Omitted: the server's clock at arrival.
    ts: LineTime | None = None


class ConsoleBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: BatchId | None = None
    lines: list[ConsoleLineIn]


def decode_batch(body: ScalarBatchIn, max_points: int) -> ScalarBatch:
    """The batch as arrays; InvalidInput naming the series, or PayloadTooLarge over the limit."""
    series = [_decode_series(index, s) for index, s in enumerate(body.series)]
    total = sum(len(s.iterations) for s in series)
    if total > max_points:
        raise PayloadTooLarge(
            f"the batch holds {total} points, more than the server's limit of {max_points}; "
            "send it in smaller batches"
        )
    return ScalarBatch(series=series, batch_id=body.batch_id)


def _decode_series(index: int, s: SeriesIn) -> SeriesPoints:
    # Lengths, emptiness and finite timestamps are the store's checks (ingest_batch).
    name = f"series {index} ({s.metric!r}/{s.variant!r})"
    return SeriesPoints(
        s.metric,
        s.variant,
        _iterations(name, s.iterations),
        _floats(name, "values", s.values),
        _floats(name, "timestamps", s.timestamps),
    )


def _iterations(name: str, array: str | list[int | float]) -> NDArray[np.int64]:
    if isinstance(array, str):
        return np.frombuffer(_unpack(name, "iterations", array), dtype="<i8")
    problem = f"{name}: iterations must be whole numbers between -2**63 and 2**63-1"
    try:
        raw = np.asarray(array)
    except (OverflowError, ValueError):
        raise InvalidInput(problem) from None
    if raw.dtype.kind == "i" or len(raw) == 0:
        return raw.astype(np.int64, copy=False)
    if raw.dtype.kind != "f":  # ints beyond int64 come out as Python objects
        raise InvalidInput(problem)
    # Whole floats (3.0) are fine; 2**63 itself rounds into range as a float, so compare
    # against a bound that is exact in float64.
    if not (np.isfinite(raw).all() and (raw == np.floor(raw)).all()):
        raise InvalidInput(problem)
    if (np.abs(raw) >= 2.0**63).any():
        raise InvalidInput(problem)
    return raw.astype(np.int64)


def _floats(name: str, field: str, array: str | list[int | float]) -> NDArray[np.float64]:
    if isinstance(array, str):
        return np.frombuffer(_unpack(name, field, array), dtype="<f8")
    try:
        return np.asarray(array, dtype=np.float64)
    except OverflowError:
        raise InvalidInput(f"{name}: {field} holds a number too large for float64") from None


def _unpack(name: str, field: str, text: str) -> bytes:
    try:
        return unpack_bytes(text)
    except ValueError as exc:  # binascii.Error and UnicodeEncodeError included
        raise InvalidInput(
            f"{name}: {field} is neither a JSON list of numbers nor base64 of 8-byte "
            f"little-endian items ({exc})"
        ) from None


class FrameSeriesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Name
    variant: Name
    count: Annotated[int, Field(ge=1)]


class FrameHeaderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: BatchId | None = None
    series: list[FrameSeriesIn] = Field(min_length=1)


def decode_frame(raw: bytes, max_points: int) -> ScalarBatch:
    """A binary frame (``tunelab.domain.scalar_wire``) as arrays, checked like a JSON batch."""
    try:
        header_data, arrays = split_frame(raw)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    try:
        header = FrameHeaderIn.model_validate(header_data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidInput(f"the frame's header is invalid: {problems}") from None
    total = sum(s.count for s in header.series)
    if total > max_points:
        raise PayloadTooLarge(
            f"the batch holds {total} points, more than the server's limit of {max_points}; "
            "send it in smaller batches"
        )
    if len(arrays) != 24 * total:
        raise InvalidInput(
            f"the header announces {total} points ({24 * total} bytes of arrays) but the "
            f"frame carries {len(arrays)} bytes"
        )
    series, offset = [], 0
    for s in header.series:
        size = 8 * s.count
        iterations = np.frombuffer(arrays, dtype="<i8", count=s.count, offset=offset)
        values = np.frombuffer(arrays, dtype="<f8", count=s.count, offset=offset + size)
        stamps = np.frombuffer(arrays, dtype="<f8", count=s.count, offset=offset + 2 * size)
        series.append(SeriesPoints(s.metric, s.variant, iterations, values, stamps))
        offset += 3 * size
    return ScalarBatch(series=series, batch_id=header.batch_id)
