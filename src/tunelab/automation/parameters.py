"""The ranges a search draws hyperparameters from (ClearML's names and meanings).

Every range is named ``Section/name`` (``Args/lr``) and yields values of its own Python type:
an integer range yields ``int``, a discrete range each value as given, so a trial's task
records (and its script receives) ``16`` as an int and ``"adam"`` as a str, never text.

Example::

    UniformIntegerParameterRange("Args/batch", 8, 64, step_size=8).to_list()
    # [{"Args/batch": 8}, {"Args/batch": 16}, ..., {"Args/batch": 64}]
    LogUniformParameterRange("Args/lr", -4, -1).get_value()  # {"Args/lr": 10 ** x}, x in [-4, -1]
"""

from __future__ import annotations

import abc
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from tunelab.errors import InvalidInput

# Grid points of a continuous range without a step (ClearML's default resolution).
DEFAULT_GRID_STEPS = 100
# A grid lists each range's values at once: a range with more is sampled, not listed.
MAX_GRID_VALUES = 100_000


class Parameter(abc.ABC):
    """A hyperparameter's search space: ``get_value`` samples, ``to_list`` enumerates."""

    def __init__(self, name: str | None) -> None:
        self.name = name

    @abc.abstractmethod
    def get_value(self, rng: random.Random | None = None) -> dict[str, Any]:
        """One random value as ``{name: value}``."""

    @abc.abstractmethod
    def to_list(self) -> list[dict[str, Any]]:
        """Every grid value as ``[{name: value}, ...]``."""

    def to_dict(self) -> dict[str, Any]:
        """The range as a plain, typed dict (``from_dict`` reads it back)."""
        return {"type": type(self).__name__, **vars(self)}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Parameter:
        kinds: dict[str, type[Parameter]] = {
            cls.__name__: cls
            for cls in (
                UniformParameterRange,
                UniformIntegerParameterRange,
                LogUniformParameterRange,
                DiscreteParameterRange,
                ParameterSet,
            )
        }
        fields = dict(data)
        kind = kinds.get(str(fields.pop("type", "")))
        if kind is None:
            raise InvalidInput(f"unknown parameter range {data.get('type')!r}")
        return kind(**fields)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # type: ignore[assignment]


def _rng(rng: random.Random | None) -> random.Random:
    return rng if rng is not None else random.Random()


def _checked_bounds(name: str, low: float, high: float) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidInput(f"parameter {name!r}: min_value and max_value must be finite numbers")
    if low > high:
        raise InvalidInput(f"parameter {name!r}: min_value must not be above max_value")


def _listed(name: str, count: int) -> int:
    """``count`` values a grid lists for range ``name``, if a grid can hold them."""
    if count > MAX_GRID_VALUES:
        raise InvalidInput(
            f"parameter {name!r}: {count:,} grid values, more than a grid lists "
            f"({MAX_GRID_VALUES:,}); give a larger step, or use the random or optuna strategy"
        )
    return count


def _steps(low: float, high: float, step: float, include_max: bool) -> int:
    """How many grid points ``low + i * step`` lie in the range (a little float slack, so
    ``0.1 + 9 * 0.1`` still counts as 1.0)."""
    if step <= 0:
        raise InvalidInput("step_size must be above 0")
    span = (high - low) / step
    count = math.floor(span + 1e-9) + 1
    if not include_max and count > 1 and math.isclose(low + (count - 1) * step, high):
        count -= 1
    return count


class UniformParameterRange(Parameter):
    """Floats from ``min_value`` to ``max_value`` (``step_size``: only multiples of it
    above ``min_value``; ``include_max_value``: whether ``max_value`` itself may come)."""

    def __init__(
        self,
        name: str,
        min_value: float,
        max_value: float,
        step_size: float | None = None,
        include_max_value: bool = True,
    ) -> None:
        super().__init__(name)
        _checked_bounds(name, float(min_value), float(max_value))
        self.min_value = float(min_value)
        self.max_value = float(max_value)
        if step_size is not None and not float(step_size) > 0:
            raise InvalidInput(f"parameter {name!r}: step_size must be above 0")
        self.step_size = None if step_size is None else float(step_size)
        self.include_max_value = include_max_value

    def _point(self, step: float, index: int) -> float:
        # Rounded so grid points read as typed (0.30000000000000004 -> 0.3).
        return round(self.min_value + index * step, 12)

    def get_value(self, rng: random.Random | None = None) -> dict[str, Any]:
        draw = _rng(rng)
        if self.step_size is not None:
            # A draw among the grid's points by index: a fine step never lists them all.
            count = _steps(self.min_value, self.max_value, self.step_size, self.include_max_value)
            return {str(self.name): self._point(self.step_size, draw.randrange(count))}
        return {str(self.name): draw.uniform(self.min_value, self.max_value)}

    def to_list(self) -> list[dict[str, Any]]:
        step = self.step_size or (self.max_value - self.min_value) / DEFAULT_GRID_STEPS
        if step == 0:
            return [{str(self.name): self.min_value}]
        count = _steps(self.min_value, self.max_value, step, self.include_max_value)
        return [
            {str(self.name): self._point(step, i)} for i in range(_listed(str(self.name), count))
        ]


class UniformIntegerParameterRange(Parameter):
    """Integers from ``min_value`` to ``max_value`` every ``step_size`` (values are ``int``)."""

    def __init__(
        self,
        name: str,
        min_value: int,
        max_value: int,
        step_size: int = 1,
        include_max_value: bool = True,
    ) -> None:
        super().__init__(name)
        if int(min_value) > int(max_value):  # whole numbers of any size: compared as such
            raise InvalidInput(f"parameter {name!r}: min_value must not be above max_value")
        if int(step_size) < 1:
            raise InvalidInput(f"parameter {name!r}: step_size must be 1 or more")
        self.min_value = int(min_value)
        self.max_value = int(max_value)
        self.step_size = int(step_size)
        self.include_max_value = include_max_value

    def _values(self) -> range:
        stop = self.max_value + 1 if self.include_max_value else self.max_value
        return range(self.min_value, max(stop, self.min_value + 1), self.step_size)

    def get_value(self, rng: random.Random | None = None) -> dict[str, Any]:
        # By index into the range, never listed: a wide range costs nothing to draw from.
        values = self._values()
        return {str(self.name): values[_rng(rng).randrange(_length(values))]}

    def to_list(self) -> list[dict[str, Any]]:
        values = self._values()
        _listed(str(self.name), _length(values))
        return [{str(self.name): value} for value in values]


def _length(values: range) -> int:
    """``len(values)``, which Python refuses past a machine word."""
    return (values.stop - values.start + values.step - 1) // values.step


class LogUniformParameterRange(UniformParameterRange):
    """``base ** x`` with the exponent ``x`` uniform in ``[min_value, max_value]`` (as in
    ClearML: ``LogUniformParameterRange("Args/lr", -4, -1)`` gives 1e-4 ... 1e-1)."""

    def __init__(
        self,
        name: str,
        min_value: float,
        max_value: float,
        base: float = 10,
        step_size: float | None = None,
        include_max_value: bool = True,
    ) -> None:
        super().__init__(name, min_value, max_value, step_size, include_max_value)
        if base <= 0 or base == 1:
            raise InvalidInput(f"parameter {name!r}: base must be above 0 and not 1")
        self.base = base

    @classmethod
    def from_values(
        cls, name: str, low: float, high: float, base: float = 10
    ) -> LogUniformParameterRange:
        """The range between two values (not exponents): ``from_values("Args/lr", 1e-4, 0.1)``."""
        if low <= 0 or high <= 0:
            raise InvalidInput(f"parameter {name!r}: a log scale needs values above 0")
        return cls(name, math.log(low, base), math.log(high, base), base=base)

    def get_value(self, rng: random.Random | None = None) -> dict[str, Any]:
        exponent = super().get_value(rng)[str(self.name)]
        return {str(self.name): float(self.base**exponent)}

    def to_list(self) -> list[dict[str, Any]]:
        return [
            {str(self.name): float(self.base ** item[str(self.name)])} for item in super().to_list()
        ]


class DiscreteParameterRange(Parameter):
    """One of ``values``, each kept as given (``["adam", "sgd"]``, ``[16, 32]``, ``[True]``)."""

    def __init__(self, name: str, values: Sequence[Any] = ()) -> None:
        super().__init__(name)
        if not values:
            raise InvalidInput(f"parameter {name!r}: give at least one value")
        self.values = list(values)

    def get_value(self, rng: random.Random | None = None) -> dict[str, Any]:
        return {str(self.name): _rng(rng).choice(self.values)}

    def to_list(self) -> list[dict[str, Any]]:
        return [{str(self.name): value} for value in self.values]


class ParameterSet(Parameter):
    """Whole combinations tried together:
    ``ParameterSet([{"Args/lr": 0.1, "Args/batch": 32}, {"Args/lr": 0.01, "Args/batch": 64}])``;
    a combination's value may itself be a range, drawn when the combination is."""

    def __init__(self, parameter_combinations: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(None)
        if not parameter_combinations:
            raise InvalidInput("ParameterSet needs at least one combination")
        self.values = [dict(item) for item in parameter_combinations]

    def to_dict(self) -> dict[str, Any]:
        combos = [
            {k: v.to_dict() if isinstance(v, Parameter) else v for k, v in item.items()}
            for item in self.values
        ]
        return {"type": type(self).__name__, "parameter_combinations": combos}

    @staticmethod
    def _resolve(combination: Mapping[str, Any], rng: random.Random | None) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in combination.items():
            if isinstance(value, Mapping) and "type" in value:
                value = Parameter.from_dict(value)
            if isinstance(value, Parameter):
                values.update(value.get_value(rng))
            else:
                values[key] = value
        return values

    def get_value(self, rng: random.Random | None = None) -> dict[str, Any]:
        return self._resolve(_rng(rng).choice(self.values), rng)

    def to_list(self) -> list[dict[str, Any]]:
        return [self._resolve(item, None) for item in self.values]


def names_of(parameters: Sequence[Parameter]) -> list[str]:
    """Every hyperparameter name the ranges set (a ParameterSet's keys included)."""
    names: list[str] = []
    for param in parameters:
        if isinstance(param, ParameterSet):
            keys = [k for combo in param.values for k in combo]
        else:
            keys = [str(param.name)]
        names.extend(k for k in keys if k not in names)
    return names
