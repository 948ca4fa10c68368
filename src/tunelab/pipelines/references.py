"""``${...}`` references between pipeline steps, resolved when a step is launched.

A value may name another step's output or a pipeline parameter:

- ``${step.id}``: the step's task id;
- ``${step.parameters.Section/name}``: the step's hyperparameter, as the type it was stored with;
- ``${step.artifacts.name.url}`` (``.sha256``, ``.size``): an artifact of the step;
- ``${step.models.output.-1.url}`` (``.id``, ``.name``): an output model (``-1``: the newest);
- ``${pipeline.param}``: a pipeline parameter.

A reference that is the whole value keeps the referenced value's type (an int stays an int);
references inside a longer text are replaced by their text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.sdk.parameters import value_text
from tunelab.sdk.task_record import cast_value

PIPELINE = "pipeline"
_REFERENCE = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class Reference:
    """``${step.field...}``: ``step`` is a step's name (or ``pipeline``), ``path`` the rest."""

    step: str
    path: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Reference:
        step, _, rest = text.strip().partition(".")
        if not step or not rest:
            raise InvalidInput(
                f"reference ${{{text}}} must be ${{step.field}} or ${{pipeline.name}}"
            )
        if step == PIPELINE:
            return cls(step, (rest,))
        kind, _, tail = rest.partition(".")
        if kind == "parameters" and tail:
            return cls(step, (kind, tail))  # a parameter name may hold dots or slashes
        return cls(step, tuple(rest.split(".")))


def references_in(value: Any) -> list[Reference]:
    """Every reference in ``value`` (texts inside lists and dicts included)."""
    if isinstance(value, str):
        return [Reference.parse(m.group(1)) for m in _REFERENCE.finditer(value)]
    if isinstance(value, Mapping):
        return [r for v in value.values() for r in references_in(v)]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in references_in(v)]
    return []


def whole_reference(value: Any) -> Reference | None:
    """The reference ``value`` consists of, if it is exactly one."""
    if isinstance(value, str):
        match = _REFERENCE.fullmatch(value.strip())
        if match:
            return Reference.parse(match.group(1))
    return None


Lookup = Callable[[Reference], Any]


def resolve(value: Any, lookup: Lookup) -> Any:
    """``value`` with its references replaced: typed when whole, as text inside a text."""
    whole = whole_reference(value)
    if whole is not None:
        return lookup(whole)
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: value_text(lookup(Reference.parse(m.group(1)))), value)
    if isinstance(value, Mapping):
        return {k: resolve(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, lookup) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve(v, lookup) for v in value)
    return value


def task_field(task: Mapping[str, Any], ref: Reference) -> Any:
    """The value ``ref`` names in a step's task (the API's task JSON)."""
    kind, rest = ref.path[0], ref.path[1:]
    if kind == "id" and not rest:
        return task["id"]
    if kind in ("name", "status") and not rest:
        return task[kind]
    if kind == "parameters" and len(rest) == 1:
        section, _, name = rest[0].partition("/")
        body = (task.get("hyperparameters") or {}).get(section, {}).get(name)
        if body is None:
            raise InvalidInput(f"step {ref.step!r} has no parameter {rest[0]!r}")
        return cast_value(body)
    if kind == "artifacts" and rest:
        name, field = _name_and_field(rest, "url")
        artifact = (task.get("artifacts") or {}).get(name)
        if artifact is None:
            raise InvalidInput(f"step {ref.step!r} has no artifact {name!r}")
        return artifact.get("uri" if field == "url" else field)
    if kind == "models" and len(rest) >= 2 and rest[0] == "output":
        return _model_field(task, ref, rest[1:])
    raise InvalidInput(f"cannot resolve ${{{ref.step}.{'.'.join(ref.path)}}}")


def _name_and_field(rest: tuple[str, ...], default: str) -> tuple[str, str]:
    if rest[-1] in ("url", "sha256", "size", "id") and len(rest) > 1:
        return ".".join(rest[:-1]), rest[-1]
    return ".".join(rest), default


def _model_field(task: Mapping[str, Any], ref: Reference, rest: tuple[str, ...]) -> Any:
    # output_models come newest first; ClearML counts -1 as the newest (the last saved).
    models = list(reversed(task.get("output_models") or []))
    which, field = rest[0], (rest[1] if len(rest) > 1 else "url")
    try:
        model = (
            models[int(which)]
            if which.lstrip("-").isdigit()
            else next(m for m in models if m.get("name") == which)
        )
    except (IndexError, StopIteration):
        raise InvalidInput(f"step {ref.step!r} has no output model {which!r}") from None
    return model.get("uri" if field == "url" else field)
