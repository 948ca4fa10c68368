"""The Compare page's numbers: the metric summary table (last/min/max per experiment, the
best marked) and the data its parallel coordinates chart draws.

Which value is best follows the metric's direction (``store.metric_directions``: set on
the first experiment's project, else read off the name); judged per column (last, min, max)
among the experiments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunelab.domain.metric_direction import Direction
from tunelab.domain.system_metrics import user_metrics_first
from tunelab.store.metric_directions import MetricDirection
from tunelab.store.scalars import Summary

VALUES = ("last", "min", "max")
# The chart starts with at most this many parameter axes; more stay a click away.
DEFAULT_AXES = 6

Summaries = Mapping[str, Mapping[str, Mapping[str, Summary]]]


def best_rule(found: MetricDirection) -> str:
    best = "Lowest" if found.direction is Direction.LOWER else "Highest"
    if found.set_in is None:
        return f"{best} is best (by the name)"
    return f"{best} is best (set in project {found.set_in})"


@dataclass(frozen=True)
class MetricCell:
    value: float | None
    best: bool = False


@dataclass(frozen=True)
class MetricRow:
    metric: str
    variant: str
    # Per experiment: (last, min, max).
    cells: tuple[tuple[MetricCell, MetricCell, MetricCell], ...]
    found: MetricDirection

    @property
    def key(self) -> str:
        return f"{self.metric}/{self.variant}"

    @property
    def direction(self) -> Direction:
        return self.found.direction

    @property
    def lower_is_better(self) -> bool:
        return self.found.direction is Direction.LOWER

    @property
    def rule(self) -> str:
        return best_rule(self.found)


def metric_names(task_ids: Sequence[str], summaries: Summaries) -> list[tuple[str, str]]:
    """Every metric/variant any experiment reported, sorted, the system metrics last."""
    return user_metrics_first(
        {(m, v) for task_id in task_ids for m, vs in summaries[task_id].items() for v in vs}
    )


def metric_rows(
    task_ids: Sequence[str],
    summaries: Summaries,
    directions: Mapping[tuple[str, str], MetricDirection],
) -> list[MetricRow]:
    """A row per metric/variant any experiment reported, sorted by name (the system
    metrics after the user's); ``directions``
    holds each one's direction."""
    rows = []
    for metric, variant in metric_names(task_ids, summaries):
        found = [summaries[task_id].get(metric, {}).get(variant) for task_id in task_ids]
        columns = [[_value(s, name) for s in found] for name in VALUES]
        direction = directions[metric, variant]
        lower = direction.direction is Direction.LOWER
        marked = [_mark_best(values, lower) for values in columns]
        cells = tuple((marked[0][i], marked[1][i], marked[2][i]) for i in range(len(task_ids)))
        rows.append(MetricRow(metric, variant, cells, direction))
    return rows


def _value(summary: Summary | None, name: str) -> float | None:
    if summary is None:
        return None
    value = getattr(summary, name)
    return value if value is not None and math.isfinite(value) else None


def _mark_best(values: Sequence[float | None], lower: bool) -> list[MetricCell]:
    present = [v for v in values if v is not None]
    # One value is not a contest; all equal is not either.
    if len(present) < 2 or min(present) == max(present):
        return [MetricCell(v) for v in values]
    best = min(present) if lower else max(present)
    return [MetricCell(v, best=v == best) for v in values]


@dataclass(frozen=True)
class ParamAxis:
    key: str
    values: tuple[str | None, ...]
    numeric: bool
    differs: bool


def param_axes(experiments: Sequence[Mapping[str, Any]]) -> list[ParamAxis]:
    """Every hyperparameter as a candidate axis: its value per experiment (None where
    missing), whether all its values read as numbers, whether they differ."""
    keys = sorted(
        {
            (section, name)
            for task in experiments
            for section, params in task["hyperparameters"].items()
            for name in params
        }
    )
    axes = []
    for section, name in keys:
        values = tuple(
            _param_value(task["hyperparameters"].get(section, {}).get(name)) for task in experiments
        )
        present = [v for v in values if v is not None]
        numeric = bool(present) and all(_number(v) is not None for v in present)
        axes.append(ParamAxis(f"{section}/{name}", values, numeric, len(set(values)) > 1))
    return axes


def _param_value(entry: Mapping[str, Any] | None) -> str | None:
    return None if entry is None else str(entry["value"])


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def default_axes(axes: Sequence[ParamAxis]) -> list[str]:
    """The numeric parameters that differ, up to DEFAULT_AXES; failing those, any that
    differ; failing those, the first few."""
    for pick in (
        [a for a in axes if a.numeric and a.differs],
        [a for a in axes if a.differs],
        list(axes),
    ):
        if pick:
            return [a.key for a in pick[:DEFAULT_AXES]]
    return []


def default_metric(rows: Sequence[MetricRow]) -> str:
    """The first metric every experiment has a last value of, else the first at all."""
    for row in rows:
        if all(cells[0].value is not None for cells in row.cells):
            return row.key
    return rows[0].key if rows else ""


def chart_data(
    experiments: Sequence[Mapping[str, Any]], axes: Sequence[ParamAxis], rows: Sequence[MetricRow]
) -> dict[str, Any]:
    """What compare.js draws the parallel coordinates from (embedded in the page as JSON)."""
    return {
        "experiments": [
            {"id": t["id"], "name": t["name"], "status": t["status"]} for t in experiments
        ],
        "params": [{"key": a.key, "values": list(a.values), "numeric": a.numeric} for a in axes],
        "metrics": [
            {
                "key": row.key,
                "lower_is_better": row.lower_is_better,
                **{name: [cells[i].value for cells in row.cells] for i, name in enumerate(VALUES)},
            }
            for row in rows
        ],
    }
