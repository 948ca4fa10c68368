"""Hyperparameter optimization with ClearML's names: ranges, search strategies and the
``HyperParameterOptimizer`` that runs trials as clones of a base task on agents.

``from tunelab.automation.optuna import OptimizerOptuna`` for Optuna (its own extra).
"""

from tunelab.automation.objective import Objective
from tunelab.automation.optimizer import HyperParameterOptimizer
from tunelab.automation.parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    Parameter,
    ParameterSet,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from tunelab.automation.search import GridSearch, RandomSearch, SearchStrategy
from tunelab.automation.trials import Trial

__all__ = [
    "DiscreteParameterRange",
    "GridSearch",
    "HyperParameterOptimizer",
    "LogUniformParameterRange",
    "Objective",
    "Parameter",
    "ParameterSet",
    "RandomSearch",
    "SearchStrategy",
    "Trial",
    "UniformIntegerParameterRange",
    "UniformParameterRange",
]
