"""Typed hyperparameters declared on a class, as ClearML's ``TaskParameters`` declares them.

Example::

    from tunelab.task_parameters import TaskParameters, param, percent_param

    class Params(TaskParameters):
        iterations = param(type=int, desc="Number of iterations to run", range=(0, 100000),
                           default=500)
        target_accuracy = percent_param(desc="The target accuracy of the model", default=0.9)

    params = task.connect(Params(), name="Params")
    params.iterations        # 500 here; under an agent, the edited value, an int

Each value is cast to its ``type`` and checked against its ``range`` (both ends included)
and ``validator`` when it is set, so a bad edit fails at once, naming the parameter.
``task.connect`` records each value with its type, and its description with the range.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tunelab.sdk import parameters as P

Range = tuple[float | None, float | None]


class _Param:
    """One declared parameter: a descriptor holding its rules; the value lives on the instance."""

    def __init__(
        self,
        validator: Callable[[Any], Any] | None,
        range: Range | None,
        type: type | None,
        desc: str | None,
        default: Any,
    ) -> None:
        self.validator = validator
        self.range = range
        self.type = type
        self.desc = desc or ""
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance.__dict__.get(self.name, self.default)

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.name] = self.check(value)

    def check(self, value: Any) -> Any:
        """``value`` cast to the type; ValueError when it breaks a rule."""
        if value is not None and self.type is not None and not isinstance(value, self.type):
            try:
                value = (
                    P.cast_text(value, self.type()) if isinstance(value, str) else self.type(value)
                )
            except (TypeError, ValueError) as exc:
                raise ValueError(f"parameter {self.name!r}: {exc}") from None
        if value is not None and self.range is not None:
            low, high = self.range
            if (low is not None and value < low) or (high is not None and value > high):
                raise ValueError(f"parameter {self.name!r}: {value!r} is outside {self.range}")
        if self.validator is not None:
            self.validator(value)
        return value

    @property
    def description(self) -> str:
        if self.range is None:
            return self.desc
        low, high = self.range
        bounds = f"range: {'' if low is None else low} to {'' if high is None else high}"
        return f"{self.desc} ({bounds})" if self.desc else bounds


def param(
    validator: Callable[[Any], Any] | None = None,
    range: Range | None = None,
    type: type | None = None,
    desc: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    default: Any = None,
) -> Any:
    """A typed parameter of a ``TaskParameters`` class (``metadata`` is accepted, unused)."""
    return _Param(validator, range, type, desc, default)


def percent_param(
    validator: Callable[[Any], Any] | None = None,
    desc: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    default: Any = None,
) -> Any:
    """A float parameter between 0 and 1."""
    return param(validator, (0, 1), float, desc, metadata, default)


class TaskParameters:
    """Base class of typed parameter sets: declare fields with ``param()``/``percent_param()``;
    ``Params(iterations=10)`` sets values, the others keep their defaults."""

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(self.declared())
        if unknown:
            raise TypeError(f"{type(self).__name__} has no parameters {sorted(unknown)}")
        for name, declared in self.declared().items():
            setattr(self, name, values.get(name, declared.default))

    @classmethod
    def declared(cls) -> dict[str, _Param]:
        found: dict[str, _Param] = {}
        for klass in reversed(cls.__mro__):
            found.update({k: v for k, v in vars(klass).items() if isinstance(v, _Param)})
        return found

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.declared()}

    def update_from_dict(self, source_dict: Mapping[str, Any]) -> None:
        """Set the declared parameters ``source_dict`` names (others are ignored)."""
        for name in self.declared():
            if name in source_dict:
                setattr(self, name, source_dict[name])

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"{type(self).__name__}({fields})"


def parameter_bodies(obj: Any, values: Mapping[str, Any]) -> dict[str, P.ParamBody]:
    """The API bodies of connected ``values`` (flattened already): a ``TaskParameters``'
    carry each declared type and its description with the range; any other object's, the
    value's own type."""
    bodies = {name: P.param_body(value) for name, value in values.items()}
    if isinstance(obj, TaskParameters):
        for name, declared in obj.declared().items():
            if name in bodies:
                bodies[name]["description"] = declared.description
                if declared.type is not None:
                    bodies[name]["type"] = declared.type.__name__
    return bodies
