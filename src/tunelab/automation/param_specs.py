"""Ranges written as text, as ``tunelab optimize --param`` takes them:

- ``Args/lr=loguniform:1e-4:1e-1`` — log scale between two values (not exponents)
- ``Args/dropout=uniform:0:0.5[:step]`` — floats
- ``Args/batch=int:8:64[:step]`` — integers
- ``Args/opt=choice:adam,sgd`` — one of the values, each read as an int, a float, true/false,
  or else kept as text (``choice:16,32`` gives ints)
"""

from __future__ import annotations

from typing import Any

from tunelab.automation.parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    Parameter,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from tunelab.errors import InvalidInput

KINDS = ("loguniform", "uniform", "int", "choice")


def parse_parameter(text: str) -> Parameter:
    name, sep, spec = text.partition("=")
    kind, _, rest = spec.partition(":")
    if not sep or not name or "/" not in name or kind not in KINDS or not rest:
        raise InvalidInput(
            f"cannot read parameter {text!r}: write Section/name=KIND:..., KIND one of "
            f"{', '.join(KINDS)} (e.g. Args/lr=loguniform:1e-4:1e-1)"
        )
    if kind == "choice":
        return DiscreteParameterRange(name, [_literal(v) for v in rest.split(",")])
    parts = rest.split(":")
    if len(parts) not in (2, 3):
        raise InvalidInput(f"parameter {name!r}: write {kind}:MIN:MAX or {kind}:MIN:MAX:STEP")
    try:
        if kind == "int":
            low, high, *step = (int(p) for p in parts)
            return UniformIntegerParameterRange(name, low, high, step_size=step[0] if step else 1)
        low_f, high_f, *step_f = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(f"parameter {name!r}: {rest!r} are not numbers") from None
    if kind == "loguniform":
        if step_f:
            raise InvalidInput(f"parameter {name!r}: a log-uniform range takes no step")
        return LogUniformParameterRange.from_values(name, low_f, high_f)
    return UniformParameterRange(name, low_f, high_f, step_size=step_f[0] if step_f else None)


def _literal(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text
