"""A pipeline's steps as a graph: who waits for whom, and the record a page draws.

The record is the controller task's configuration object ``Pipeline``: one entry per step
with its parents, task id, status, and where a cached step's task came from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.pipelines.references import PIPELINE, references_in

PENDING = "pending"
QUEUED = "queued"
RUNNING = "running"
COMPLETED = "completed"
CACHED = "cached"
FAILED = "failed"
STOPPED = "stopped"
SKIPPED = "skipped"
DONE = frozenset({COMPLETED, CACHED})
ENDED = frozenset({COMPLETED, CACHED, FAILED, STOPPED, SKIPPED})


@dataclass
class Node:
    """One step: what to run and, once launched, its task."""

    name: str
    parents: list[str] = field(default_factory=list)
    base_task_id: str | None = None
    parameter_override: dict[str, Any] = field(default_factory=dict)
    configuration_overrides: dict[str, Any] = field(default_factory=dict)
    execution_queue: str | None = None
    cache_executed_step: bool = False
    continue_on_fail: bool = False
    time_limit: float | None = None
    function: Callable[..., Any] | None = None
    function_kwargs: dict[str, Any] = field(default_factory=dict)
    function_return: list[str] = field(default_factory=list)
    helper_functions: list[Callable[..., Any]] = field(default_factory=list)
    task_id: str | None = None
    status: str = PENDING
    cached_from: str | None = None
    reason: str = ""
    started: float | None = None

    def inputs(self) -> list[Any]:
        return [self.parameter_override, self.configuration_overrides, self.function_kwargs]

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "parents": list(self.parents),
            "kind": "function" if self.function is not None else "task",
            "base_task_id": self.base_task_id,
            "queue": self.execution_queue,
            "task_id": self.task_id,
            "status": self.status,
            "cached_from": self.cached_from,
            "reason": self.reason,
        }


def implied_parents(node: Node) -> list[str]:
    """The declared parents plus every step its references name (a step waits for them)."""
    parents = list(node.parents)
    for value in node.inputs():
        for ref in references_in(value):
            if ref.step != PIPELINE and ref.step not in parents:
                parents.append(ref.step)
    return parents


def check(nodes: Mapping[str, Node], parameters: Iterable[str]) -> None:
    """Unknown parents, references to missing parameters, and cycles are refused."""
    known = set(parameters)
    for node in nodes.values():
        for parent in node.parents:
            if parent not in nodes:
                raise InvalidInput(f"step {node.name!r} waits for unknown step {parent!r}")
        for value in node.inputs():
            for ref in references_in(value):
                if ref.step == PIPELINE and ref.path[0] not in known:
                    raise InvalidInput(f"step {node.name!r} uses unknown parameter {ref.path[0]!r}")
    order(nodes)


def order(nodes: Mapping[str, Node]) -> list[str]:
    """The steps in an order where every step comes after its parents."""
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise InvalidInput(f"the pipeline's steps form a cycle through {name!r}")
        visiting.add(name)
        for parent in nodes[name].parents:
            visit(parent)
        visiting.discard(name)
        done.append(name)

    for name in nodes:
        visit(name)
    return done


def ready(nodes: Mapping[str, Node]) -> list[Node]:
    """Pending steps whose parents have all finished well."""
    return [
        node
        for node in nodes.values()
        if node.status == PENDING and all(nodes[p].status in DONE for p in node.parents)
    ]


def blocked(nodes: Mapping[str, Node]) -> list[Node]:
    """Pending steps that can never start: a parent failed, stopped or was skipped."""
    return [
        node
        for node in nodes.values()
        if node.status == PENDING and any(nodes[p].status in ENDED - DONE for p in node.parents)
    ]


def dag_text(nodes: Mapping[str, Node], parameters: Mapping[str, Any]) -> str:
    """The ``Pipeline`` configuration object's text."""
    body = {"parameters": dict(parameters), "steps": [nodes[n].record() for n in order(nodes)]}
    return json.dumps(body, indent=2, default=str)
