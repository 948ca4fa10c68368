"""``PipelineController``: steps run as tasks through queues, in dependency order.

Example::

    from tunelab.pipelines import PipelineController

    pipe = PipelineController(name="churn", project="examples", version="1.0")
    pipe.add_parameter("rows", 1000, "rows to sample")
    pipe.set_default_execution_queue("cpu")
    pipe.add_step("data", base_task_id=data_id, cache_executed_step=True,
                  parameter_override={"Args/rows": "${pipeline.rows}"})
    pipe.add_step("train", parents=["data"], base_task_id=train_id,
                  parameter_override={"Args/data_url": "${data.artifacts.table.url}"})
    pipe.start()          # runs the controller here; pipe.start(queue="services") enqueues it
    pipe.wait()
    assert pipe.is_successful()

Each step is a clone of its base task (or a function's script task, ``add_function_step``)
with the overrides set TYPED: a reference that is the whole value keeps the referenced
value's type. The controller is a task of type ``controller``: its parameters are the
hyperparameter section ``Pipeline`` (clone it, edit them, enqueue it: a new run) and its
configuration object ``Pipeline`` records the graph with each step's task and status.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from tunelab.domain.task import TaskType
from tunelab.errors import InvalidInput, TunelabError
from tunelab.pipelines import graph
from tunelab.pipelines.graph import Node
from tunelab.pipelines.launcher import StepLauncher
from tunelab.sdk.parameters import param_body
from tunelab.sdk.task_record import cast_value

SECTION = "Pipeline"
CONFIGURATION = "Pipeline"
PIPELINE_TAG = "pipeline"
_TERMINAL = frozenset({"completed", "published", "failed", "stopped"})


class PipelineController:
    """A pipeline of steps (ClearML's names); see the module docstring."""

    def __init__(
        self,
        name: str,
        project: str,
        version: str | None = None,
        add_pipeline_tags: bool = False,
        target_project: str | None = None,
        *,
        pool_period: float = 0.5,
    ) -> None:
        if not name or not project:
            raise InvalidInput("a pipeline needs a name and a project")
        self.name = name
        self.project = project
        self.version = version
        self._add_tags = add_pipeline_tags
        self._target_project = target_project or project
        self._period = pool_period
        self._nodes: dict[str, Node] = {}
        self._parameters: dict[str, Any] = {}
        self._descriptions: dict[str, str] = {}
        self._default_queue: str | None = None
        self._task_id: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._stop_failed = False
        self._succeeded: bool | None = None
        self._error: BaseException | None = None
        self._client: Any = None
        self._lock = threading.Lock()
        # True while more steps may still be added to a running pipeline (the decorator form).
        self._open = False

    # ----- building ---------------------------------------------------------------------

    def add_parameter(self, name: str, default: Any = None, description: str | None = None) -> None:
        """A pipeline parameter, referenced as ``${pipeline.name}``; stored typed in section
        ``Pipeline`` of the controller task."""
        if not name or "/" in name:
            raise InvalidInput(f"bad pipeline parameter name {name!r}")
        self._parameters[name] = default
        self._descriptions[name] = description or ""

    def get_parameters(self) -> dict[str, Any]:
        return dict(self._parameters)

    def set_default_execution_queue(self, default_execution_queue: str) -> None:
        self._default_queue = default_execution_queue

    def add_step(
        self,
        name: str,
        base_task_id: str | None = None,
        base_task_project: str | None = None,
        base_task_name: str | None = None,
        parents: Sequence[str] | None = None,
        parameter_override: dict[str, Any] | None = None,
        configuration_overrides: dict[str, Any] | None = None,
        execution_queue: str | None = None,
        cache_executed_step: bool = False,
        continue_on_fail: bool = False,
        time_limit: float | None = None,
    ) -> bool:
        """A step that runs a clone of a task (by id, or the newest by project and name).

        ``parameter_override``: ``{"Section/name": value}``; ``configuration_overrides``:
        ``{"name": dict or text}``; values may hold references. ``time_limit`` in seconds.
        """
        self._check_new_step(name)
        if base_task_id is None:
            if not base_task_name:
                raise InvalidInput(f"step {name!r} needs base_task_id or base_task_name")
            base_task_id = self._find_task(base_task_project or self.project, base_task_name)
        self._add(
            Node(
                name=name,
                parents=list(parents or []),
                base_task_id=base_task_id,
                parameter_override=dict(parameter_override or {}),
                configuration_overrides=dict(configuration_overrides or {}),
                execution_queue=execution_queue,
                cache_executed_step=cache_executed_step,
                continue_on_fail=continue_on_fail,
                time_limit=time_limit,
            )
        )
        return True

    def add_function_step(
        self,
        name: str,
        function: Callable[..., Any],
        function_kwargs: dict[str, Any] | None = None,
        function_return: Sequence[str] | None = None,
        parents: Sequence[str] | None = None,
        execution_queue: str | None = None,
        cache_executed_step: bool = False,
        helper_functions: Sequence[Callable[..., Any]] | None = None,
        continue_on_fail: bool = False,
        time_limit: float | None = None,
    ) -> bool:
        """A step that runs ``function`` as a standalone script task under an agent.

        ``function_kwargs`` values may be references; ``"${step.ret}"`` where ``ret`` is in
        that step's ``function_return`` passes the returned object itself. Each returned
        value becomes an artifact named by ``function_return``.
        """
        self._check_new_step(name)
        if not callable(function):
            raise InvalidInput(f"step {name!r}: function must be callable")
        self._add(
            Node(
                name=name,
                parents=list(parents or []),
                function=function,
                function_kwargs=dict(function_kwargs or {}),
                function_return=list(function_return or []),
                helper_functions=list(helper_functions or []),
                execution_queue=execution_queue,
                cache_executed_step=cache_executed_step,
                continue_on_fail=continue_on_fail,
                time_limit=time_limit,
            )
        )
        return True

    def _add(self, node: Node) -> None:
        node.parents = graph.implied_parents(node)
        with self._lock:
            # Before the start, steps may come in any order (start checks the graph).
            for parent in node.parents if self.is_running() else ():
                if parent not in self._nodes:
                    raise InvalidInput(f"step {node.name!r} waits for unknown step {parent!r}")
            self._nodes[node.name] = node

    def get_pipeline_dag(self) -> dict[str, Node]:
        """The steps by name, each with its parents, task id and status."""
        return dict(self._nodes)

    @property
    def id(self) -> str | None:
        """The controller task's id, once started."""
        return self._task_id

    # ----- running ----------------------------------------------------------------------

    def start(self, queue: str | None = None, wait: bool = False) -> bool:
        """Run the controller: here, on a background thread (``queue`` None), or enqueued
        on ``queue`` for an agent (the script that defines the pipeline must have called
        ``Task.init``: the agent re-runs it, and there ``start`` runs the steps)."""
        from tunelab.sdk.task import Task

        current = Task.current_task()
        if queue is not None and not (current is not None and current._remote):
            if current is None:
                raise InvalidInput("start(queue=...) needs Task.init in the pipeline's script")
            self._prepare(current)
            current.execute_remotely(queue_name=queue, exit_process=True)
            return True
        self._prepare(current)
        self._thread = threading.Thread(target=self._run, name="tunelab-pipeline", daemon=True)
        self._thread.start()
        if wait:
            self.wait()
        return True

    def start_locally(self, run_pipeline_steps_locally: bool = False) -> None:
        """Run the controller in this process until the pipeline ends.

        Steps still run through their queues: running them inside this process is not
        offered (``run_pipeline_steps_locally=True`` is refused)."""
        if run_pipeline_steps_locally:
            raise InvalidInput(
                "steps run through queues; run_pipeline_steps_locally is not offered"
            )
        from tunelab.sdk.task import Task

        self._prepare(Task.current_task())
        self._run()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the pipeline to end; False when ``timeout`` (seconds) passed first."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
        if self._error is not None:
            raise self._error
        return True

    def stop(self, timeout: float | None = None, mark_failed: bool = False) -> None:
        """Stop the pipeline: running and queued steps are stopped, the controller ends
        ``stopped`` (``failed`` with ``mark_failed``)."""
        self._stop_failed = mark_failed
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def is_successful(self) -> bool:
        """Whether every step completed (or was reused from the cache, or failed with
        ``continue_on_fail``)."""
        return bool(self._succeeded)

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def keep_open(self, more_steps: bool) -> None:
        """While True, a running pipeline does not end when its steps have: more may come."""
        self._open = more_steps

    def unique_step_name(self, base: str) -> str:
        """``base``, or ``base_2``, ``base_3``… when taken."""
        name, count = base, 1
        while name in self._nodes:
            count += 1
            name = f"{base}_{count}"
        return name

    def wait_for_step(self, name: str) -> Node:
        """The step once it has ended (or once the pipeline has)."""
        node = self._nodes[name]
        while node.status not in graph.ENDED and self.is_running():
            self._stop.wait(self._period / 2)
        return node

    # ----- the controller task ------------------------------------------------------------

    def _prepare(self, current: Any) -> None:
        from tunelab.sdk.task_lifecycle import _config_client

        graph.check(self._nodes, self._parameters)
        self._client = _config_client().as_run_client()  # it writes its own running task
        self._stop.clear()
        self._stop_failed = False
        self._succeeded = None
        self._error = None
        if current is not None:
            self._task_id = current.id
            stored = self._client.get_task(current.id)
            if current._remote:  # a clone re-run: its edited parameters win
                section = (stored.get("hyperparameters") or {}).get(SECTION, {})
                for name, body in section.items():
                    if name in self._parameters:
                        self._parameters[name] = cast_value(body)
            self._client.update_task(current.id, type=TaskType.CONTROLLER.value)
        else:
            created = self._client.create_task(
                {
                    "name": self.name,
                    "project": self.project,
                    "type": TaskType.CONTROLLER.value,
                    "status": "running",
                    "tags": [PIPELINE_TAG] if self._add_tags else [],
                }
            )
            self._task_id = str(created["id"])
        params = {
            name: param_body(value, self._descriptions.get(name, ""))
            for name, value in self._parameters.items()
        }
        self._client.set_hyperparameters(self._task_id, {SECTION: params})
        props = {
            "pipeline": param_body(self.name, "pipeline name"),
            "version": param_body(self.version or "", "pipeline version"),
        }
        self._client.set_user_properties(self._task_id, props)
        self._write_dag()

    def _write_dag(self) -> None:
        text = graph.dag_text(self._nodes, self._parameters)
        body = {CONFIGURATION: {"type": "json", "text": text, "description": "pipeline steps"}}
        self._client.set_configuration(self._task_id, body)

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # the controller task must not stay running
            self._error = exc
            self._succeeded = False
            self._finish("failed", f"pipeline controller error: {exc}")

    def _loop(self) -> None:
        assert self._task_id is not None
        launcher = StepLauncher(
            self._client,
            controller_id=self._task_id,
            project=self._target_project,
            parameters=self._parameters,
            nodes=self._nodes,
            default_queue=self._default_queue,
            tags=[f"pipe: {self._task_id}"] if self._add_tags else [],
        )
        while True:
            with self._lock:  # steps may be added meanwhile (the decorator form)
                if self._iterate(launcher):
                    return
            self._stop.wait(self._period)

    def _iterate(self, launcher: StepLauncher) -> bool:
        """One pass: launch what is ready, follow what runs; True once the run has ended."""
        if self._stop.is_set() or self._stop_asked():
            launcher.stop_running("pipeline stopped")
            self._skip_pending("the pipeline was stopped")
            self._write_dag()
            self._succeeded = False
            self._finish("failed" if self._stop_failed else "stopped", "pipeline stopped")
            return True
        changed, failure = False, ""
        for node in graph.ready(self._nodes):
            launcher.launch(node)
            changed = True
            failure = failure or _failure(node)
        for node in self._nodes.values():
            if node.status in (graph.QUEUED, graph.RUNNING) and launcher.poll(node):
                changed = True
                failure = failure or _failure(node)
        for node in graph.blocked(self._nodes):
            node.status = graph.SKIPPED
            node.reason = "a parent step did not complete"
            changed = True
        if failure:
            launcher.stop_running(f"pipeline failed: {failure}")
            self._skip_pending("the pipeline failed")
            self._write_dag()
            self._succeeded = False
            self._finish("failed", failure)
            return True
        if changed:
            self._write_dag()
        if self._open or not all(node.status in graph.ENDED for node in self._nodes.values()):
            return False
        ok = all(n.status in graph.DONE or n.continue_on_fail for n in self._nodes.values())
        self._succeeded = ok
        self._finish("completed" if ok else "failed", "" if ok else "steps failed")
        return True

    def _skip_pending(self, reason: str) -> None:
        for node in self._nodes.values():
            if node.status == graph.PENDING:
                node.status, node.reason = graph.SKIPPED, reason

    def _stop_asked(self) -> bool:
        assert self._task_id is not None
        task = self._client.get_task(self._task_id)
        return bool(task.get("stop_requested")) or task.get("status") in _TERMINAL

    def _finish(self, status: str, reason: str) -> None:
        from tunelab.sdk.task import Task

        current = Task.current_task()
        if current is not None and current.id == self._task_id:
            # The script's own run ends the task; a failed pipeline makes it fail.
            if status == "failed":
                with contextlib.suppress(TunelabError):
                    current.mark_failed(reason)
            return
        # A TunelabError: stopped or changed from outside meanwhile, its status says so.
        with contextlib.suppress(TunelabError):
            self._client.update_task(self._task_id, status=status, status_reason=reason)

    def _check_new_step(self, name: str) -> None:
        if not name or name == "pipeline" or "." in name or "/" in name:
            raise InvalidInput(f"bad step name {name!r}")
        if name in self._nodes:
            raise InvalidInput(f"step {name!r} exists already")

    def _find_task(self, project: str, name: str) -> str:
        from tunelab.sdk.task import Task

        return Task.get_task(project_name=project, task_name=name).id


def _failure(node: Node) -> str:
    """What fails the pipeline about ``node``: empty unless it ended badly without
    ``continue_on_fail``."""
    if node.status in graph.ENDED - graph.DONE and not node.continue_on_fail:
        return f"step {node.name!r} failed: {node.reason}"
    return ""
