"""A Python function as a standalone step: its source becomes the script of a task.

The script calls ``Task.init`` (which, under an agent, attaches to the step's task), reads
the function's keyword arguments from the hyperparameter section ``kwargs`` as the types
they were stored with, fetches the arguments that are earlier steps' returned objects
(section ``kwargs_artifacts``: ``task_id.artifact``), calls the function and stores each
returned value as an artifact named by ``function_return``, as ClearML does.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from tunelab.errors import InvalidInput

KWARGS = "kwargs"
KWARGS_ARTIFACTS = "kwargs_artifacts"

_MAIN = """

def _tunelab_step_main():
    from tunelab import Task

    task = Task.init(project_name={project!r}, task_name={name!r}, task_type="data_processing")
    kwargs = dict(task.connect({defaults!r}, name={kwargs_section!r}))
    wanted = dict(task.connect({artifact_defaults!r}, name={artifacts_section!r}))
    for argument, source in wanted.items():
        if source:
            task_id, _, artifact = str(source).partition(".")
            kwargs[argument] = Task.get_task(task_id=task_id).artifacts[artifact].get()
    result = {function}(**kwargs)
    names = {returns!r}
    values = result if len(names) > 1 else (result,)
    for artifact_name, value in zip(names, values):
        task.upload_artifact(artifact_name, value, wait_on_upload=True)


if __name__ == "__main__":
    _tunelab_step_main()
"""


def function_source(function: Callable[..., Any]) -> str:
    """The function's own text, dedented (a function defined inside another works too)."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as exc:
        raise InvalidInput(f"cannot read the source of {function!r}: {exc}") from None
    # Decorators (a pipeline component's own) are left out: the script calls the function.
    tree = ast.parse(source)
    definition = tree.body[0] if tree.body else None
    if isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        lines = source.splitlines(keepends=True)
        return "".join(lines[definition.lineno - 1 :])
    return source


def step_script(
    function: Callable[..., Any],
    *,
    project: str,
    name: str,
    argument_names: Sequence[str],
    artifact_arguments: Sequence[str],
    returns: Sequence[str],
    helper_functions: Sequence[Callable[..., Any]] = (),
) -> str:
    """The standalone script of a function step."""
    # Annotations stay unevaluated: they may name what the step's script never imports.
    parts = ["from __future__ import annotations"]
    parts += [function_source(helper) for helper in helper_functions]
    parts.append(function_source(function))
    main = _MAIN.format(
        project=project,
        name=name,
        # None as every default: the stored type decides what the script gets.
        defaults={argument: None for argument in argument_names},
        kwargs_section=KWARGS,
        artifact_defaults={argument: "" for argument in artifact_arguments},
        artifacts_section=KWARGS_ARTIFACTS,
        function=function.__name__,
        returns=list(returns),
    )
    return "\n\n".join(part.rstrip() for part in parts) + "\n" + main


def argument_names(function: Callable[..., Any]) -> list[str]:
    """The function's parameters that a step can pass by keyword."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in inspect.signature(function).parameters.values() if p.kind in kinds]


def defaults_of(function: Callable[..., Any]) -> dict[str, Any]:
    return {
        p.name: p.default
        for p in inspect.signature(function).parameters.values()
        if p.default is not inspect.Parameter.empty
    }
