"""``PipelineDecorator``: a pipeline written as a Python function that calls components.

Example::

    from tunelab.pipelines import PipelineDecorator

    @PipelineDecorator.component(return_values=["rows"], cache=True)
    def load(n: int) -> list[int]:
        return list(range(n))

    @PipelineDecorator.component(return_values=["total", "count"])
    def stats(rows: list[int]) -> tuple[int, int]:
        return sum(rows), len(rows)

    @PipelineDecorator.pipeline(name="numbers", project="examples", version="1.0")
    def numbers(n: int = 4) -> int:
        total, count = stats(load(n))   # each call launches a step at once
        return total * 10 + count       # using a result waits for its step and fetches it

    PipelineDecorator.set_default_execution_queue("cpu")
    numbers(n=5)

Each component call inside the pipeline function becomes a function step (see
``PipelineController.add_function_step``); a result passed to another component becomes a
reference to the returned artifact, so that step waits for it. The pipeline function's
arguments are the pipeline's parameters (section ``Pipeline``, typed).
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from tunelab.errors import TunelabError
from tunelab.pipelines import graph
from tunelab.pipelines.controller import PipelineController


class StepResult:
    """A component's returned value, fetched from its step's artifact when first used."""

    __slots__ = ("_controller", "_name", "_ready", "_step", "_value")

    def __init__(self, controller: PipelineController, step: str, name: str) -> None:
        self._controller = controller
        self._step = step
        self._name = name
        self._ready = False
        self._value: Any = None

    def reference(self) -> str:
        return f"${{{self._step}.{self._name}}}"

    def result(self) -> Any:
        """The value itself: waits for the step, then reads its artifact."""
        if not self._ready:
            from tunelab.sdk.task import Task

            node = self._controller.wait_for_step(self._step)
            if node.status not in graph.DONE or node.task_id is None:
                raise TunelabError(f"step {self._step!r} {node.status}: {node.reason}")
            self._value = Task.get_task(task_id=node.task_id).artifacts[self._name].get()
            self._ready = True
        return self._value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.result(), name)

    def __repr__(self) -> str:
        return f"<result {self._name!r} of step {self._step!r}>"


def _forward(name: str) -> Callable[..., Any]:
    def method(self: StepResult, *args: Any) -> Any:
        return getattr(self.result(), name)(*args)

    method.__name__ = name
    return method


def _binary(op: Callable[[Any, Any], Any], reflected: bool) -> Callable[..., Any]:
    # Through ``operator``, so mixed types work as with the value itself (5 + 0.5).
    def method(self: StepResult, other: Any) -> Any:
        return op(other, self.result()) if reflected else op(self.result(), other)

    return method


# Using a result in an expression (``100 * accuracy``, ``rows[0]``, ``str(x)``) waits for it.
_UNARY = (
    "__str__ __format__ __bool__ __int__ __float__ __index__ __round__ __hash__ __len__ "
    "__iter__ __contains__ __getitem__ __neg__ __abs__"
)
for _name in _UNARY.split():
    setattr(StepResult, _name, _forward(_name))
for _name in ["eq", "ne", "lt", "le", "gt", "ge"]:
    setattr(StepResult, f"__{_name}__", _binary(getattr(operator, _name), reflected=False))
for _name in ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow"]:
    setattr(StepResult, f"__{_name}__", _binary(getattr(operator, _name), reflected=False))
    setattr(StepResult, f"__r{_name}__", _binary(getattr(operator, _name), reflected=True))


class PipelineDecorator:
    """ClearML's decorator names: ``component``, ``pipeline``,
    ``set_default_execution_queue``, ``debug_pipeline``."""

    _default_queue: ClassVar[str | None] = None
    _running: ClassVar[PipelineController | None] = None
    _debug: ClassVar[bool] = False

    @classmethod
    def set_default_execution_queue(cls, default_execution_queue: str | None) -> None:
        cls._default_queue = default_execution_queue

    @classmethod
    def debug_pipeline(cls) -> None:
        """Run the pipeline function and its components as plain calls in this process
        (no tasks): for debugging the pipeline's logic."""
        cls._debug = True

    @classmethod
    def component(
        cls,
        _func: Callable[..., Any] | None = None,
        *,
        return_values: Sequence[str] = ("return_object",),
        name: str | None = None,
        cache: bool = False,
        execution_queue: str | None = None,
        helper_functions: Sequence[Callable[..., Any]] | None = None,
        continue_on_fail: bool = False,
        time_limit: float | None = None,
    ) -> Any:
        """A function that, called inside a pipeline function, runs as a step; elsewhere it
        is a plain call. Its returns are the artifacts ``return_values``."""

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(func)
            def call(*args: Any, **kwargs: Any) -> Any:
                controller = cls._running
                if controller is None or cls._debug:
                    return func(*args, **kwargs)
                bound = inspect.signature(func).bind(*args, **kwargs)
                values = {
                    key: value.reference() if isinstance(value, StepResult) else value
                    for key, value in bound.arguments.items()
                }
                step = controller.unique_step_name(name or func.__name__)
                controller.add_function_step(
                    step,
                    func,
                    function_kwargs=values,
                    function_return=list(return_values),
                    execution_queue=execution_queue,
                    cache_executed_step=cache,
                    helper_functions=helper_functions,
                    continue_on_fail=continue_on_fail,
                    time_limit=time_limit,
                )
                results = [StepResult(controller, step, r) for r in return_values]
                if not results:
                    return None
                return results[0] if len(results) == 1 else tuple(results)

            return call

        return decorate(_func) if _func is not None else decorate

    @classmethod
    def pipeline(
        cls,
        _func: Callable[..., Any] | None = None,
        *,
        name: str,
        project: str,
        version: str | None = None,
        default_queue: str | None = None,
        pipeline_execution_queue: str | None = None,
        add_pipeline_tags: bool = False,
        target_project: str | None = None,
        pool_period: float = 0.5,
    ) -> Any:
        """The pipeline's logic: calling the function runs the pipeline (its controller here,
        or enqueued on ``pipeline_execution_queue``) and answers the function's result."""

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(func)
            def run(*args: Any, **kwargs: Any) -> Any:
                if cls._debug:
                    return func(*args, **kwargs)
                bound = inspect.signature(func).bind(*args, **kwargs)
                bound.apply_defaults()
                controller = PipelineController(
                    name, project, version, add_pipeline_tags, target_project,
                    pool_period=pool_period,
                )  # fmt: skip
                for key, value in bound.arguments.items():
                    controller.add_parameter(key, value)
                queue = default_queue or cls._default_queue
                if queue:
                    controller.set_default_execution_queue(queue)
                return cls._run(controller, func, pipeline_execution_queue)

            return run

        return decorate(_func) if _func is not None else decorate

    @classmethod
    def _run(
        cls, controller: PipelineController, func: Callable[..., Any], queue: str | None
    ) -> Any:
        controller.keep_open(True)
        controller.start(queue=queue)
        cls._running = controller
        try:
            # The stored parameters: a cloned run's edited values.
            result = func(**controller.get_parameters())
            if isinstance(result, StepResult):
                result = result.result()
        except BaseException:
            controller.keep_open(False)
            controller.stop(mark_failed=True)
            raise
        finally:
            cls._running = None
        controller.keep_open(False)
        controller.wait()
        return result
