"""A batch's metrics read as columns are what reading them one point at a time gives: the
same values to the bit (-0.0 as 0.0, NaN, the infinities), the same series, and for a batch
with a problem the same first error."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tunelab.errors import InvalidInput
from tunelab.server.mlflow import mapping
from tunelab.server.mlflow.messages import Message
from tunelab.server.mlflow.metric_columns import MetricColumns, read_metrics, read_point

STAMP = 1_700_000_000_000

# Each field's forms: what MLflow's client sends most, what proto3 JSON also allows, and
# what is refused.
KEYS: list[Any] = ["loss", "train/loss", "a/b/c", "x", "x/x", "/lead", "trail/", "", 7, None]
VALUES: list[Any] = [
    0.5,
    -0.0,
    0.0,
    3,
    -(2**70),
    1e308,
    math.nan,
    math.inf,
    "NaN",
    "Infinity",
    "-Infinity",
    "2.5",
    "high",
    True,
    None,
    10**400,
    [1.0],
]
STAMPS: list[Any] = [
    STAMP,
    0,
    -1,
    2**53 + 1,
    2**63 - 1,
    2**63,
    str(STAMP),
    STAMP + 0.0,
    1.5,
    "x",
    None,
    True,
]
STEPS: list[Any] = [0, 1, -5, 2**62, 2**63, "12", 11.0, 1.5, "", None, False, "x"]
MISSING = object()


def _metric(rng: random.Random, odd: float) -> dict[str, Any]:
    """A metric as the client sends it, each field in another form with odds ``odd``."""

    def pick(common: Callable[[], Any], forms: list[Any], can_miss: bool = True) -> Any:
        if rng.random() >= odd:
            return common()
        return MISSING if can_miss and rng.random() < 0.1 else rng.choice(forms)

    fields = {
        "key": pick(lambda: rng.choice(KEYS[:6]), KEYS),
        "value": pick(lambda: rng.random() * 10, VALUES),
        "timestamp": pick(lambda: STAMP + rng.randrange(1000), STAMPS),
        "step": pick(lambda: rng.randrange(-3, 50), STEPS),
    }
    return {name: value for name, value in fields.items() if value is not MISSING}


def _point_by_point(metrics: list[dict[str, Any]]) -> MetricColumns:
    return MetricColumns.of_points([read_point(Message(m)) for m in metrics])


def _outcome(
    read: Callable[[list[dict[str, Any]]], MetricColumns], metrics: list[dict[str, Any]]
) -> tuple[str, Any]:
    try:
        columns = read(metrics)
    except InvalidInput as exc:
        return "refused", str(exc)
    for key in columns.unique_keys():
        if not 0 < len(key) <= 250:
            return "key", key
    series = [
        (s.metric, s.variant, s.iterations.tolist(), _bits(s.values), _bits(s.timestamps))
        for s in columns.series()
    ]
    return "read", series


def _bits(array: np.ndarray[Any, Any]) -> bytes:
    return array.astype("<f8").tobytes()


def _grouped_as_points(metrics: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The series of a batch as the points give them: grouped by (title, series) in the
    order first seen, each point's timestamp divided as Python divides it."""
    points = [read_point(Message(m)) for m in metrics]
    groups: dict[tuple[str, str], list[Any]] = {}
    for p in points:
        groups.setdefault(mapping.metric_names(p.key), []).append(p)
    return [
        (
            title,
            name,
            [p.step for p in group],
            b"".join(struct.pack("<d", p.value) for p in group),
            b"".join(struct.pack("<d", p.timestamp_ms / 1000) for p in group),
        )
        for (title, name), group in groups.items()
    ]


@pytest.mark.parametrize("odd", [0.0, 0.002, 0.05, 0.5])
def test_columns_read_what_points_read(odd: float) -> None:
    rng = random.Random(odd)
    for _ in range(300):
        metrics = [_metric(rng, odd) for _ in range(rng.choice([1, 2, 10, 200]))]
        columns = _outcome(read_metrics, metrics)
        assert columns == _outcome(_point_by_point, metrics), metrics
        if columns[0] == "read":
            assert columns[1] == _grouped_as_points(metrics), metrics


def test_a_batch_as_mlflows_client_sends_it_is_read_as_columns() -> None:
    metrics = [
        {"key": f"m{k}", "value": v, "timestamp": STAMP, "step": s}
        for k in range(3)
        for s, v in enumerate([0.5, "NaN", -0.0, "-Infinity", 2])
    ]
    columns = read_metrics(metrics)
    assert not math.copysign(1.0, columns.values[2]) < 0  # -0.0 stored as 0.0
    assert [s.metric for s in columns.series()] == ["m0", "m1", "m2"]
    assert _outcome(read_metrics, metrics) == _outcome(_point_by_point, metrics)
