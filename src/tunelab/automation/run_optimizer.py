"""The script of an optimizer task started from the web app, run by an agent.

The web app's "Optimize…" form creates a draft task of type ``optimizer`` whose code is this
module's two lines (its script text) and whose ``optimizer`` configuration object holds the
search (``spec_of``). An agent takes it from the queue the user chose and runs it: the
optimizer clones, enqueues and stops trials with the task's own key, which a task of type
optimizer may do within its project (``tunelab.server.access``).

The spec is the one ``HyperParameterOptimizer`` records itself::

    {"base_task_id": "...", "hyper_parameters": [{"type": "UniformIntegerParameterRange",
     "name": "Args/batch", "min_value": 8, "max_value": 64, "step_size": 8}],
     "objective": {"title": "loss", "series": "val", "sign": "min"},
     "optimizer_class": "RandomSearch", "execution_queue": "default",
     "max_number_of_concurrent_tasks": 2, "total_max_jobs": 6, ...}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tunelab.automation.parameters import Parameter
from tunelab.errors import InvalidInput

# What the agent writes as the task's script (the task is recorded from no repository).
SCRIPT = "from tunelab.automation.run_optimizer import main\n\nmain()\n"
ENTRY_POINT = "run_optimizer.py"
STRATEGIES = {"grid": "GridSearch", "random": "RandomSearch", "optuna": "OptimizerOptuna"}
# Seconds between two looks at the trials: short, so the page's table moves while it runs.
DEFAULT_POLL_SECONDS = 3.0


def spec_of(text: str | None) -> dict[str, Any]:
    """The spec from the task's ``optimizer`` configuration object (JSON)."""
    if not text:
        raise InvalidInput("this task has no 'optimizer' configuration object")
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"the 'optimizer' configuration is not JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise InvalidInput("the 'optimizer' configuration is not a JSON object")
    return spec


def optimizer_kwargs(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``HyperParameterOptimizer``'s arguments for a spec."""
    from tunelab.automation.search import GridSearch, RandomSearch

    name = str(spec.get("optimizer_class") or "RandomSearch")
    strategy: Any
    if name == "OptimizerOptuna":
        from tunelab.automation.optuna import OptimizerOptuna

        strategy = OptimizerOptuna
    elif name in ("GridSearch", "RandomSearch"):
        strategy = GridSearch if name == "GridSearch" else RandomSearch
    else:
        raise InvalidInput(f"unknown search strategy {name!r}")
    objective = spec.get("objective") or {}
    poll = float(spec.get("poll_seconds") or DEFAULT_POLL_SECONDS)
    limits = ("total_max_jobs", "optimization_time_limit", "compute_time_limit",
              "time_limit_per_job", "min_iteration_per_job", "max_iteration_per_job",
              "save_top_k_tasks_only", "spawn_project")  # fmt: skip
    return {
        "base_task_id": str(spec["base_task_id"]),
        "hyper_parameters": [Parameter.from_dict(p) for p in spec["hyper_parameters"]],
        "objective_metric_title": str(objective["title"]),
        "objective_metric_series": str(objective["series"]),
        "objective_metric_sign": str(objective.get("sign") or "min"),
        "optimizer_class": strategy,
        "max_number_of_concurrent_tasks": int(spec.get("max_number_of_concurrent_tasks") or 1),
        "execution_queue": str(spec.get("execution_queue") or "default"),
        "pool_period_min": poll / 60,
        **{key: spec[key] for key in limits if spec.get(key) is not None},
        **dict(spec.get("optimizer_kwargs") or {}),
    }


def main() -> None:
    """Run the optimizer this task describes, as the task itself (``Task.init``)."""
    from tunelab.automation.optimizer import HyperParameterOptimizer
    from tunelab.sdk.task import Task

    # No system metrics: the optimizer mostly waits, and its environment may lack psutil.
    task = Task.init(
        task_type="optimizer", auto_connect_arg_parser=False, auto_resource_monitoring=False
    )
    spec = spec_of(task.get_configuration_object("optimizer"))
    optimizer = HyperParameterOptimizer(auto_connect_task=True, **optimizer_kwargs(spec))
    print(f"tunelab: optimizer task {optimizer.task_id}", flush=True)
    optimizer.start()
    optimizer.wait()
    for task_id, result in optimizer.get_top_experiments_id_metrics_pair(3):
        print(f"tunelab: best {task_id} {result['value']} {result['parameters']}", flush=True)
