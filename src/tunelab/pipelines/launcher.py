"""Launching a pipeline's steps as tasks, following them, and stopping them.

A step's task is prepared here (references resolved, typed values set), checked against
the cache, then created and enqueued; its status is read back on every poll.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

from tunelab.errors import InvalidInput, TunelabError
from tunelab.pipelines import cache, graph
from tunelab.pipelines.function_step import (
    KWARGS,
    KWARGS_ARTIFACTS,
    argument_names,
    defaults_of,
    step_script,
)
from tunelab.pipelines.graph import Node
from tunelab.pipelines.references import PIPELINE, Reference, resolve, task_field, whole_reference
from tunelab.sdk.parameters import param_body, split_key

_STATUS = {
    "queued": graph.QUEUED,
    "running": graph.RUNNING,
    "completed": graph.COMPLETED,
    "published": graph.COMPLETED,
    "failed": graph.FAILED,
    "stopped": graph.STOPPED,
}


class StepLauncher:
    def __init__(
        self,
        client: Any,
        *,
        controller_id: str,
        project: str,
        parameters: Mapping[str, Any],
        nodes: Mapping[str, Node],
        default_queue: str | None,
        tags: list[str],
    ) -> None:
        self._client = client
        self._controller = controller_id
        self._project = project
        self._parameters = parameters
        self._nodes = nodes
        self._default_queue = default_queue
        self._tags = tags

    # ----- launching ----------------------------------------------------------------------

    def launch(self, node: Node) -> None:
        """Create and enqueue the step's task, or reuse a cached one; a step that cannot be
        prepared (a reference that does not resolve, no queue) ends ``failed``."""
        try:
            queue = node.execution_queue or self._default_queue
            if not queue:
                raise InvalidInput(f"step {node.name!r} has no execution queue")
            hashes: dict[str, str] = {}
            body = (
                self._function_body(node, hashes)
                if node.function
                else self._clone_body(node, hashes)
            )
            key = cache.cache_key(body, hashes)
            if node.cache_executed_step:
                found = cache.find_cached(self._client, key, exclude="")
                if found is not None:
                    node.task_id, node.cached_from = found["id"], found["id"]
                    node.status = graph.CACHED
                    return
            body["tags"] = [*body.get("tags", []), *self._tags, cache.cache_tag(key)]
            created = self._client.create_task(body)
            node.task_id = str(created["id"])
            self._client.enqueue_task(node.task_id, queue=queue)
            node.status = graph.QUEUED
        except TunelabError as exc:
            node.status, node.reason = graph.FAILED, str(exc)

    def _clone_body(self, node: Node, hashes: dict[str, str]) -> dict[str, Any]:
        """The base task's inputs with the step's overrides, as a new draft's body."""
        assert node.base_task_id is not None
        base = self._client.get_task(node.base_task_id)
        hyperparameters: dict[str, dict[str, Any]] = {
            section: dict(values) for section, values in (base.get("hyperparameters") or {}).items()
        }
        for key, value in node.parameter_override.items():
            section, name = split_key(key, "General")
            old = hyperparameters.get(section, {}).get(name) or {}
            body = param_body(self._resolve(value, hashes), str(old.get("description", "")))
            hyperparameters.setdefault(section, {})[name] = body
        configuration = dict(base.get("configuration") or {})
        for name, value in node.configuration_overrides.items():
            resolved = self._resolve(value, hashes)
            old = configuration.get(name) or {}
            text = resolved if isinstance(resolved, str) else json.dumps(resolved)
            kind = old.get("type") or ("text" if isinstance(resolved, str) else "dictionary")
            configuration[name] = {
                "type": kind,
                "text": text,
                "description": old.get("description", ""),
            }
        return {
            "name": node.name,
            "project": self._project,
            "type": base.get("type") or "training",
            "parent": self._controller,
            "execution": dict(base.get("execution") or {}),
            "hyperparameters": hyperparameters,
            "configuration": configuration,
            "user_properties": {},
            "comment": f"pipeline step {node.name!r} from task {node.base_task_id}",
        }

    def _function_body(self, node: Node, hashes: dict[str, str]) -> dict[str, Any]:
        assert node.function is not None
        arguments = argument_names(node.function)
        values = {**defaults_of(node.function), **node.function_kwargs}
        kwargs: dict[str, Any] = {}
        from_artifacts: dict[str, str] = {}
        for argument, value in values.items():
            if argument not in arguments:
                raise InvalidInput(
                    f"step {node.name!r}: {node.function.__name__} has no argument {argument!r}"
                )
            returned = self._returned_object(whole_reference(value), hashes)
            if returned is not None:
                from_artifacts[argument] = returned
            else:
                kwargs[argument] = self._resolve(value, hashes)
        script = step_script(
            node.function,
            project=self._project,
            name=node.name,
            argument_names=list(kwargs),
            artifact_arguments=list(from_artifacts),
            returns=node.function_return,
            helper_functions=node.helper_functions,
        )
        hyperparameters = {
            KWARGS: {name: param_body(value) for name, value in kwargs.items()},
            KWARGS_ARTIFACTS: {name: param_body(src) for name, src in from_artifacts.items()},
        }
        return {
            "name": node.name,
            "project": self._project,
            "type": "data_processing",
            "parent": self._controller,
            "execution": {"entry_point": f"{node.name}.py", "working_dir": ".", "diff": script},
            "hyperparameters": {k: v for k, v in hyperparameters.items() if v},
            "comment": f"pipeline function step {node.function.__name__}",
        }

    def _returned_object(self, ref: Reference | None, hashes: dict[str, str]) -> str | None:
        """``task_id.artifact`` when ``ref`` is ``${step.ret}`` for a function step's return."""
        if ref is None or ref.step == PIPELINE or len(ref.path) != 1:
            return None
        source = self._nodes.get(ref.step)
        if source is None or ref.path[0] not in source.function_return:
            return None
        task = self._step_task(ref.step)
        artifact = (task.get("artifacts") or {}).get(ref.path[0])
        if artifact is None:
            raise InvalidInput(f"step {ref.step!r} returned no {ref.path[0]!r}")
        hashes[f"{ref.step}.{ref.path[0]}"] = str(artifact.get("sha256") or artifact.get("uri"))
        return f"{task['id']}.{ref.path[0]}"

    def _resolve(self, value: Any, hashes: dict[str, str]) -> Any:
        def lookup(ref: Reference) -> Any:
            if ref.step == PIPELINE:
                if ref.path[0] not in self._parameters:
                    raise InvalidInput(f"no pipeline parameter {ref.path[0]!r}")
                return self._parameters[ref.path[0]]
            if ref.step not in self._nodes:
                raise InvalidInput(f"reference to unknown step {ref.step!r}")
            task = self._step_task(ref.step)
            if ref.path[0] == "artifacts":
                name = ref.path[1] if len(ref.path) > 1 else ""
                artifact = (task.get("artifacts") or {}).get(name) or {}
                hashes[f"{ref.step}.{name}"] = str(artifact.get("sha256") or artifact.get("uri"))
            return task_field(task, ref)

        return resolve(value, lookup)

    def _step_task(self, step: str) -> dict[str, Any]:
        task_id = self._nodes[step].task_id
        if task_id is None:
            raise InvalidInput(f"step {step!r} has not run")
        return dict(self._client.get_task(task_id))

    # ----- following and stopping ---------------------------------------------------------

    def poll(self, node: Node) -> bool:
        """Read the step's task status; True when the node's status changed."""
        assert node.task_id is not None
        task = self._client.get_task(node.task_id)
        status = _STATUS.get(str(task["status"]), node.status)
        if status == graph.RUNNING and node.started is None:
            node.started = time.monotonic()  # the time limit counts from here, not the queue
        if (
            status == graph.RUNNING
            and node.time_limit is not None
            and node.started is not None
            and time.monotonic() - node.started > node.time_limit
        ):
            self._stop(node, f"time limit of {node.time_limit:g} s reached")
            return True
        if status == node.status:
            return False
        node.status = status
        if status in (graph.FAILED, graph.STOPPED):
            node.reason = str(task.get("status_reason") or status)
        return True

    def stop_running(self, reason: str) -> None:
        for node in self._nodes.values():
            if node.status in (graph.QUEUED, graph.RUNNING):
                self._stop(node, reason)

    def _stop(self, node: Node, reason: str) -> None:
        assert node.task_id is not None
        with contextlib.suppress(TunelabError):  # it ended meanwhile
            self._client.stop_task(node.task_id, reason=reason)
        node.status, node.reason = graph.STOPPED, reason
