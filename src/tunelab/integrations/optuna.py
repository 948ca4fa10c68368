"""An Optuna callback that records a study of your own, each trial as a task::

    import optuna
    from tunelab.integrations.optuna import TunelabCallback

    study = optuna.create_study(direction="minimize")
    study.optimize(objective, n_trials=20, callbacks=[TunelabCallback(project_name="hpo")])

- The parent: the task ``Task.init`` started, else a new task of type ``optimizer`` (named
  after the study, marked completed by ``close()`` or when the script exits).
- Each finished trial: a task under the parent (``parent`` set, tagged ``optimizer:<parent
  id>``, user property ``optimizer_task_id``), its parameters typed in the section
  ``Optuna``, its objective value as the scalar ``objective``/``value`` (one series per
  objective of a multi-objective study), its intermediate values as ``intermediate``/
  ``value``, and its state: a complete trial is completed, a pruned one stopped, a failed one
  failed, with Optuna's state as the user property ``optuna_state``.
- The study's summary on the parent: the configuration object ``Optuna`` (directions, trial
  counts by state, the best trial's number, value, parameters and task), and, as an optimizer
  task records them, the ``trials`` table best first and ``objective``/``best so far``.

A failure to record is printed once as ``tunelab: could not capture …``; the study goes on.
"""

from __future__ import annotations

import atexit
import json
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunelab.automation.objective import Objective
from tunelab.automation.report import CONFIGURATION_NAME, OptimizerReport
from tunelab.automation.trials import PROPERTY_OPTIMIZER, Trial, optimizer_tag
from tunelab.sdk import parameters as P
from tunelab.sdk.capture_warnings import guarded

if TYPE_CHECKING:
    import optuna

    from tunelab.sdk.transport import ApiClient

SECTION = "Optuna"
OBJECTIVE_TITLE = "objective"
INTERMEDIATE_TITLE = "intermediate"
CONFIGURATION = "Optuna"
# Optuna's trial states and the task status each ends in.
STATUSES = {"COMPLETE": "completed", "PRUNED": "stopped", "FAIL": "failed"}


class TunelabCallback:
    def __init__(
        self,
        project_name: str | None = None,
        task_name: str | None = None,
        parent_task_id: str | None = None,
    ) -> None:
        """``project_name``: where the trials (and a new parent) go, by default the current
        task's project. ``parent_task_id``: an existing task to record under instead."""
        from tunelab.sdk.config import load_config
        from tunelab.sdk.task import Task
        from tunelab.sdk.task_lifecycle import shared_client

        config = load_config()
        self._client: ApiClient = shared_client(config.api_url, config.api_token)
        current = Task.current_task()
        self._own_parent = False
        self._task_name = task_name
        self.parent_id: str | None = parent_task_id or (current.id if current else None)
        self.project = project_name
        if self.project is None and self.parent_id is not None:
            self.project = str(self._client.get_task(self.parent_id)["project"]["name"])
        if self.project is None:
            self.project = "Optuna"
        self._trials: list[Trial] = []
        self._task_ids: dict[int, str] = {}  # Optuna's trial number -> its task
        self._distributions: dict[str, Any] = {}
        self._report: OptimizerReport | None = None

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        with guarded("an Optuna trial"):
            self._record(study, trial)

    def close(self) -> None:
        """Mark the parent this callback created completed (done at exit otherwise)."""
        if self._own_parent and self.parent_id is not None:
            self._own_parent = False
            with guarded("the Optuna study's end"):
                self._client.update_task(self.parent_id, status="completed")

    # ----- recording --------------------------------------------------------------------

    def _parent(self, study: optuna.Study) -> str:
        if self.parent_id is None:
            created = self._client.create_task({
                "name": self._task_name or f"Optuna: {study.study_name}",
                "project": self.project, "type": "optimizer", "status": "running",
            })  # fmt: skip
            self.parent_id = str(created["id"])
            self._own_parent = True
            atexit.register(self.close)
        return self.parent_id

    def _record(self, study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> None:
        parent = self._parent(study)
        values = list(frozen.values or [])
        params = {f"{SECTION}/{name}": value for name, value in frozen.params.items()}
        for name, distribution in frozen.distributions.items():
            self._distributions[f"{SECTION}/{name}"] = distribution
        name = f"{study.study_name} trial {frozen.number}"
        task = self._client.create_task({
            "name": name[:255], "project": self.project, "status": "running",
            "parent": parent, "tags": [optimizer_tag(parent)],
            "hyperparameters": P.group_by_section(params),
            "user_properties": {
                PROPERTY_OPTIMIZER: P.param_body(parent),
                "optuna_state": P.param_body(frozen.state.name),
                "optuna_trial": P.param_body(frozen.number),
            },
        })  # fmt: skip
        task_id = str(task["id"])
        self._task_ids[frozen.number] = task_id
        # A pruned trial's value is its last intermediate one: not an objective to rank by.
        complete = frozen.state.name == "COMPLETE"
        self._scalars(task_id, values if complete else [], frozen)
        status = STATUSES.get(frozen.state.name, "completed")
        reason = "" if frozen.state.name == "COMPLETE" else f"optuna: {frozen.state.name.lower()}"
        self._client.update_task(task_id, status=status, status_reason=reason)
        objective = values[0] if values and frozen.state.name == "COMPLETE" else None
        number = len(self._trials) + 1
        trial = Trial(task_id, params, number, status=status, objective=objective)
        if frozen.state.name == "PRUNED":
            trial.stop_reason = "pruned"
        self._trials.append(trial)
        self._summary(study, parent)

    def _scalars(self, task_id: str, values: Sequence[float], frozen: Any) -> None:
        now = time.time()
        series = [
            {"metric": OBJECTIVE_TITLE, "variant": _series(i, len(values)), "iterations": [0],
             "values": [float(v)], "timestamps": [now]}
            for i, v in enumerate(values)
        ]  # fmt: skip
        steps = sorted(frozen.intermediate_values.items())
        if steps:
            series.append({
                "metric": INTERMEDIATE_TITLE, "variant": "value",
                "iterations": [int(s) for s, _ in steps],
                "values": [float(v) for _, v in steps], "timestamps": [now] * len(steps),
            })  # fmt: skip
        if series:
            self._client.post_scalars(task_id, {"batch_id": f"optuna-{task_id}", "series": series})

    def _summary(self, study: optuna.Study, parent: str) -> None:
        directions = [d.name.lower() for d in study.directions]
        if self._report is None:
            sign = "max" if directions[0] == "maximize" else "min"
            objective = Objective(OBJECTIVE_TITLE, _series(0, len(directions)), sign)
            names = sorted({n for t in self._trials for n in t.parameters})
            self._report = OptimizerReport(self._client, parent, objective, names)
        self._report.names = sorted({n for t in self._trials for n in t.parameters})
        self._report.trials(self._trials)
        trials = study.get_trials(deepcopy=False)
        states: dict[str, int] = {}
        for each in trials:
            states[each.state.name] = states.get(each.state.name, 0) + 1
        summary: dict[str, Any] = {
            "study_name": study.study_name, "directions": directions,
            "n_trials": len(trials), "states": states,
        }  # fmt: skip
        if len(directions) == 1 and states.get("COMPLETE"):
            best = study.best_trial
            summary["best_trial"] = {
                "number": best.number, "value": best.value, "params": best.params,
                "task_id": self._task_ids.get(best.number),
            }  # fmt: skip
        objective = self._report.objective
        spec = {
            "optimizer_class": "Optuna study",
            "hyper_parameters": [_range(n, d) for n, d in sorted(self._distributions.items())],
            "objective": objective.to_dict(),
        }  # the optimizer's record, so an optimizer parent's Optimization tab shows the study
        bodies = {
            CONFIGURATION: {"type": "dictionary", "description": "Optuna study",
                            "text": json.dumps(summary, indent=2, default=str)},
            CONFIGURATION_NAME: {"type": "dictionary", "description": "Optuna study",
                                 "text": json.dumps(spec, indent=2, default=str)},
        }  # fmt: skip
        self._client.as_run_client().set_configuration(parent, bodies)


def _range(name: str, distribution: Any) -> dict[str, Any]:
    """An Optuna distribution as the range ``tunelab.automation`` would record."""
    kind = type(distribution).__name__
    if kind == "CategoricalDistribution":
        return {"type": "DiscreteParameterRange", "name": name,
                "values": list(distribution.choices)}  # fmt: skip
    low, high, step = distribution.low, distribution.high, distribution.step
    if kind == "IntDistribution" and not distribution.log:
        return {"type": "UniformIntegerParameterRange", "name": name, "min_value": low,
                "max_value": high, "step_size": step, "include_max_value": True}  # fmt: skip
    if distribution.log:
        return {"type": "LogUniformParameterRange", "name": name, "min_value": math.log10(low),
                "max_value": math.log10(high), "base": 10, "step_size": None,
                "include_max_value": True}  # fmt: skip
    return {"type": "UniformParameterRange", "name": name, "min_value": low, "max_value": high,
            "step_size": step, "include_max_value": True}  # fmt: skip


def _series(index: int, count: int) -> str:
    return "value" if count == 1 else f"value {index}"
