"""The objective a search optimizes: one scalar series of each trial, read from the
server's per-task summary (ClearML's ``objective_metric_title/series/sign``).

``min``/``max`` take the series' last value; ``min_global``/``max_global`` the lowest or
highest value it ever reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tunelab.errors import InvalidInput

SIGNS = ("min", "max", "min_global", "max_global")


class Objective:
    def __init__(self, title: str, series: str, sign: str = "min") -> None:
        if sign not in SIGNS:
            raise InvalidInput(f"objective sign must be one of {', '.join(SIGNS)}, got {sign!r}")
        if not title or not series:
            raise InvalidInput("the objective needs a metric title and series")
        self.title = title
        self.series = series
        self.sign = sign

    @property
    def maximize(self) -> bool:
        return self.sign.startswith("max")

    @property
    def is_global(self) -> bool:
        return self.sign.endswith("_global")

    def value(self, metrics: Mapping[str, Any]) -> tuple[float | None, int | None]:
        """``(value, iteration)`` from a task's ``/metrics`` answer; ``(None, None)`` until
        the series has a finite value."""
        summary = (metrics.get(self.title) or {}).get(self.series)
        if not summary:
            return None, None
        key = ("max" if self.maximize else "min") if self.is_global else "last"
        value = summary.get(key)
        iteration = summary.get(f"{key}_iter")
        if value is None or not math.isfinite(float(value)):
            return None, None
        return float(value), None if iteration is None else int(iteration)

    def last_iteration(self, metrics: Mapping[str, Any]) -> int | None:
        summary = (metrics.get(self.title) or {}).get(self.series) or {}
        last = summary.get("last_iter")
        return None if last is None else int(last)

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` beats ``b``."""
        return a > b if self.maximize else a < b

    def sort_key(self, value: float | None) -> float:
        """Best first when sorted ascending; trials without a value last."""
        if value is None:
            return math.inf
        return -value if self.maximize else value

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "series": self.series, "sign": self.sign}
