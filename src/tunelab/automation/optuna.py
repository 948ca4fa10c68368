"""``OptimizerOptuna``: an Optuna study drives the search (TPE by default), ask/tell with
each trial's objective, and a pruner stops losing trials while they run.

Example::

    import optuna
    from tunelab.automation import HyperParameterOptimizer
    from tunelab.automation.optuna import OptimizerOptuna

    HyperParameterOptimizer(..., optimizer_class=OptimizerOptuna,
                            optuna_pruner=optuna.pruners.MedianPruner())

Optuna is imported only when a study is made (``pip install tunelab[optuna]``). For pruning,
the trial's objective series is reported to Optuna point by point as it arrives; a trial
Optuna prunes is stopped through the normal stop request, ends ``stopped`` and counts as
pruned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tunelab.automation.objective import Objective
from tunelab.automation.parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    Parameter,
    ParameterSet,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from tunelab.automation.search import SearchStrategy
from tunelab.automation.trials import Trial


class OptimizerOptuna(SearchStrategy):
    def __init__(
        self,
        hyper_parameters: Sequence[Parameter],
        objective: Objective,
        optuna_sampler: Any = None,
        optuna_pruner: Any = None,
        continue_previous_study: Any = None,
        **kwargs: Any,
    ) -> None:
        """``optuna_sampler``: an Optuna sampler (``TPESampler`` when None);
        ``optuna_pruner``: an Optuna pruner (none when None: trials are not stopped early);
        ``continue_previous_study``: an ``optuna.Study`` to add the trials to."""
        super().__init__(hyper_parameters, objective, **kwargs)
        import optuna

        self._optuna = optuna
        self._pruning = optuna_pruner is not None
        direction = "maximize" if objective.maximize else "minimize"
        self.study = continue_previous_study or optuna.create_study(
            direction=direction,
            sampler=optuna_sampler or optuna.samplers.TPESampler(),
            pruner=optuna_pruner or optuna.pruners.NopPruner(),
        )
        self._pending: Any = None
        self._reported: dict[str, int] = {}  # per trial: the last iteration told to Optuna

    @property
    def wants_series(self) -> bool:
        return self._pruning

    def next_parameters(self) -> dict[str, Any] | None:
        trial = self.study.ask()
        values: dict[str, Any] = {}
        for index, param in enumerate(self.hyper_parameters):
            values.update(self._suggest(trial, index, param))
        self._pending = trial
        return values

    def _suggest(self, trial: Any, index: int, param: Parameter) -> dict[str, Any]:
        name = str(param.name)
        if isinstance(param, LogUniformParameterRange):
            low, high = param.base**param.min_value, param.base**param.max_value
            return {name: float(trial.suggest_float(name, low, high, log=True))}
        if isinstance(param, UniformParameterRange):
            step = param.step_size
            return {name: trial.suggest_float(name, param.min_value, param.max_value, step=step)}
        if isinstance(param, UniformIntegerParameterRange):
            high = param.max_value if param.include_max_value else param.max_value - 1
            return {name: trial.suggest_int(name, param.min_value, high, step=param.step_size)}
        if isinstance(param, DiscreteParameterRange):
            # Optuna keeps choices by position, so values of any type come back as given.
            position = trial.suggest_categorical(name, list(range(len(param.values))))
            return {name: param.values[position]}
        if isinstance(param, ParameterSet):
            combos = param.to_list()
            position = trial.suggest_categorical(f"set{index}", list(range(len(combos))))
            return dict(combos[position])
        # A range of a user's own: sample it as it samples itself.
        return param.get_value()

    def trial_started(self, trial: Trial) -> None:
        super().trial_started(trial)
        trial.handle, self._pending = self._pending, None

    def should_prune(self, trial: Trial, series: Sequence[tuple[int, float]]) -> bool:
        if trial.handle is None:
            return False
        told = self._reported.get(trial.task_id, -1)
        for iteration, value in series:
            if iteration > told and math.isfinite(value):
                trial.handle.report(value, iteration)
                told = iteration
        self._reported[trial.task_id] = told
        return bool(trial.handle.should_prune())

    def trial_ended(self, trial: Trial) -> None:
        state = self._optuna.trial.TrialState
        if trial.handle is None:
            self.adopt_results([trial])
            return
        if trial.pruned:
            self.study.tell(trial.handle, state=state.PRUNED)
        elif trial.objective is None or trial.status == "failed":
            self.study.tell(trial.handle, state=state.FAIL)
        else:
            self.study.tell(trial.handle, trial.objective)

    def adopt_results(self, trials: Sequence[Trial]) -> None:
        """Earlier trials with an objective join the study, so TPE learns from them."""
        distributions = self._distributions()
        for trial in trials:
            if trial.objective is None or trial.status == "failed":
                continue
            params = self._encoded(trial.parameters)
            if params is None:
                continue
            try:
                frozen = self._optuna.trial.create_trial(
                    params=params,
                    distributions={k: distributions[k] for k in params},
                    value=trial.objective,
                )
            except ValueError:  # a value outside today's ranges: the study cannot hold it
                continue
            self.study.add_trial(frozen)

    def _distributions(self) -> dict[str, Any]:
        dist = self._optuna.distributions
        found: dict[str, Any] = {}
        for index, param in enumerate(self.hyper_parameters):
            name = str(param.name)
            if isinstance(param, LogUniformParameterRange):
                low, high = param.base**param.min_value, param.base**param.max_value
                found[name] = dist.FloatDistribution(low, high, log=True)
            elif isinstance(param, UniformParameterRange):
                found[name] = dist.FloatDistribution(
                    param.min_value, param.max_value, step=param.step_size
                )
            elif isinstance(param, UniformIntegerParameterRange):
                high = param.max_value if param.include_max_value else param.max_value - 1
                found[name] = dist.IntDistribution(param.min_value, high, step=param.step_size)
            elif isinstance(param, DiscreteParameterRange):
                found[name] = dist.CategoricalDistribution(list(range(len(param.values))))
            elif isinstance(param, ParameterSet):
                found[f"set{index}"] = dist.CategoricalDistribution(
                    list(range(len(param.to_list())))
                )
        return found

    def _encoded(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """A trial's values as Optuna's parameters (choices by position); None when one
        lies outside today's ranges."""
        params: dict[str, Any] = {}
        for index, param in enumerate(self.hyper_parameters):
            name = str(param.name)
            if isinstance(param, DiscreteParameterRange):
                if values.get(name) not in param.values:
                    return None
                params[name] = param.values.index(values[name])
            elif isinstance(param, ParameterSet):
                combos = param.to_list()
                chosen = {k: values.get(k) for k in combos[0]}
                if chosen not in combos:
                    return None
                params[f"set{index}"] = combos.index(chosen)
            elif name in values:
                params[name] = values[name]
            else:
                return None
        return params
