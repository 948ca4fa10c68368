"""How each field a task write gives is checked, and merged with what is stored: pure
functions, each a clear InvalidInput naming the field (the store's writes call them)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tunelab.domain.resources import Resources
from tunelab.domain.task import (
    EXECUTION_FIELDS,
    RUNTIME_FIELDS,
    Execution,
    Runtime,
    TaskStatus,
    TaskType,
)
from tunelab.errors import InvalidInput, enum_member
from tunelab.store.git_runs import checked_git_run, read_git_run

MAX_NAME_LENGTH = 1024
MAX_USER_LENGTH = 256


def status_of(value: Any) -> TaskStatus:
    return enum_member(TaskStatus, value, "status")


def type_of(value: Any) -> TaskType:
    return enum_member(TaskType, value, "task type")


def checked_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_LENGTH:
        raise InvalidInput(f"a task name must be 1 to {MAX_NAME_LENGTH} characters")
    return value


def checked_text(value: Any, field: str, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text, got {type(value).__name__}")
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{field} is at most {limit} characters")
    return value


def checked_time(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{field} must be a finite time in seconds, got {value!r}")
    return float(value)


def merged_execution(stored: Mapping[str, Any], given: Any) -> dict[str, str]:
    if not isinstance(given, Mapping):
        raise InvalidInput("execution must be an object")
    unknown = set(given) - set(EXECUTION_FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown execution fields {sorted(unknown)}; known: {', '.join(EXECUTION_FIELDS)}"
        )
    for key, value in given.items():
        if not isinstance(value, str):
            raise InvalidInput(f"execution.{key} must be text, got {type(value).__name__}")
    merged = {**stored, **given}
    if "diff" in given and "diff_error" not in given:
        merged["diff_error"] = ""  # a diff written by hand is the one to run: accepted
    return Execution.from_dict(merged).to_dict()


def checked_resources(value: Resources | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``resources`` column's value for a record given whole (checked); None when it
    asks for nothing."""
    if isinstance(value, Resources):
        value = value.to_dict()
    checked = Resources.from_dict(value)
    return checked.to_dict() if checked.requested() else None


def edited_git_run(stored: Any, given: Any) -> dict[str, Any] | None:
    """The whole record as given, its ``results`` as stored: only the agent and the server
    record those (``git_runs.set_git_results``)."""
    edited = checked_git_run(given)
    kept = read_git_run(stored)
    if edited is not None and kept is not None:
        edited["results"] = kept["results"]
    return edited


def merged_runtime(stored: Mapping[str, Any], given: Any) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        raise InvalidInput("runtime must be an object")
    return _runtime({**Runtime().to_dict(), **stored, **given}, "runtime").to_dict()


def _runtime(merged: Mapping[str, Any], where: str, nested: bool = True) -> Runtime:
    unknown = set(merged) - set(RUNTIME_FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown {where} fields {sorted(unknown)}; known: {', '.join(RUNTIME_FIELDS)}"
        )
    merged = {**Runtime().to_dict(), **merged}
    for key in ("host", "os", "python", "os_user"):
        if not isinstance(merged[key], str):
            raise InvalidInput(f"{where}.{key} must be text")
    cpu_count, memory_gb, gpus = merged["cpu_count"], merged["memory_gb"], merged["gpus"]
    if isinstance(cpu_count, bool) or not isinstance(cpu_count, int) or cpu_count < 0:
        raise InvalidInput(f"{where}.cpu_count must be a whole number >= 0")
    if (
        isinstance(memory_gb, bool)
        or not isinstance(memory_gb, int | float)
        or not math.isfinite(memory_gb)
        or memory_gb < 0
    ):
        raise InvalidInput(f"{where}.memory_gb must be a finite number >= 0")
    if not isinstance(gpus, list | tuple) or not all(isinstance(g, str) for g in gpus):
        raise InvalidInput(f"{where}.gpus must be a list of texts")
    original = merged["original"]
    if original is not None and not (nested and isinstance(original, Mapping)):
        # One level only: the first machine's runtime, not a history of machines.
        raise InvalidInput(f"{where}.original must be {'an object or ' if nested else ''}null")
    return Runtime(
        host=merged["host"],
        os=merged["os"],
        python=merged["python"],
        cpu_count=cpu_count,
        memory_gb=float(memory_gb),
        gpus=tuple(gpus),
        os_user=merged["os_user"],
        original=_runtime(original, f"{where}.original", nested=False) if original else None,
    )
