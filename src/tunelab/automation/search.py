"""Search strategies: what the next trial's hyperparameters are (ClearML's ``GridSearch``
and ``RandomSearch``; ``tunelab.automation.optuna.OptimizerOptuna`` is the third).

A strategy only proposes values and hears how trials went; launching, watching and
stopping trials is the optimizer's work (``tunelab.automation.optimizer``).
"""

from __future__ import annotations

import abc
import itertools
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from tunelab.automation.objective import Objective
from tunelab.automation.parameters import Parameter
from tunelab.automation.trials import Trial


def parameters_key(values: Mapping[str, Any]) -> str:
    """A parameter set's identity: values of different types differ (``1`` vs ``"1"``)."""
    return json.dumps(
        {k: [type(v).__name__, v] for k, v in sorted(values.items())}, default=str, sort_keys=True
    )


class SearchStrategy(abc.ABC):
    """The base of every strategy. ``next_parameters`` answers a parameter set, or None
    when the space is used up; ``trial_started``/``trial_ended`` tell it how trials go;
    ``should_prune`` may stop a trial early from its objective series."""

    def __init__(
        self,
        hyper_parameters: Sequence[Parameter],
        objective: Objective,
        **kwargs: Any,
    ) -> None:
        self.hyper_parameters = list(hyper_parameters)
        self.objective = objective
        self.tried: set[str] = set()
        self.options = kwargs

    @abc.abstractmethod
    def next_parameters(self) -> dict[str, Any] | None:
        """The next values to try, ``{"Section/name": value}``; None when none are left."""

    def adopt(self, trials: Sequence[Trial]) -> None:
        """Trials of an earlier run of this optimizer: never propose their values again."""
        for trial in trials:
            self.tried.add(parameters_key(trial.parameters))

    def adopt_results(self, trials: Sequence[Trial]) -> None:  # noqa: B027 - an optional hook
        """Ended trials of an earlier run, their objectives read back (a model-based
        strategy learns from them)."""

    def trial_started(self, trial: Trial) -> None:
        self.tried.add(parameters_key(trial.parameters))

    def trial_ended(self, trial: Trial) -> None:  # noqa: B027 - an optional hook
        """Called once when the trial ends (its objective read back)."""

    def should_prune(self, trial: Trial, series: Sequence[tuple[int, float]]) -> bool:
        return False

    @property
    def wants_series(self) -> bool:
        """Whether ``should_prune`` reads the running trials' series (a cost per poll)."""
        return False


class GridSearch(SearchStrategy):
    """Every combination of the ranges' grid values, in order, each once."""

    def __init__(
        self, hyper_parameters: Sequence[Parameter], objective: Objective, **kwargs: Any
    ) -> None:
        super().__init__(hyper_parameters, objective, **kwargs)
        grids = [param.to_list() for param in self.hyper_parameters]
        self._combinations = itertools.product(*grids)

    def next_parameters(self) -> dict[str, Any] | None:
        for combination in self._combinations:
            values: dict[str, Any] = {}
            for part in combination:
                values.update(part)
            if parameters_key(values) not in self.tried:
                return values
        return None


class RandomSearch(SearchStrategy):
    """Values drawn at random from each range (``seed=`` makes the draws repeatable); a
    set already tried is drawn again, up to ``max_draws`` times."""

    def __init__(
        self,
        hyper_parameters: Sequence[Parameter],
        objective: Objective,
        seed: int | None = None,
        max_draws: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(hyper_parameters, objective, **kwargs)
        self._random = random.Random(seed)
        self._max_draws = max_draws

    def next_parameters(self) -> dict[str, Any] | None:
        for _ in range(self._max_draws):
            values: dict[str, Any] = {}
            for param in self.hyper_parameters:
                values.update(param.get_value(self._random))
            if parameters_key(values) not in self.tried:
                return values
        return None
