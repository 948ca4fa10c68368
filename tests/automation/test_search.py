"""Search strategies and the objective, without a server: what they propose and how they
rank."""

from __future__ import annotations

import pytest

from tunelab.automation import (
    DiscreteParameterRange,
    GridSearch,
    LogUniformParameterRange,
    Objective,
    RandomSearch,
    Trial,
    UniformIntegerParameterRange,
)
from tunelab.errors import InvalidInput

RANGES = [
    UniformIntegerParameterRange("Args/batch", 16, 32, step_size=16),
    DiscreteParameterRange("Args/opt", ["adam", "sgd"]),
]
LOSS = Objective("loss", "val", "min")


def _drain(strategy: GridSearch | RandomSearch) -> list[dict]:
    proposed = []
    while (values := strategy.next_parameters()) is not None:
        proposed.append(values)
        strategy.trial_started(Trial(f"t{len(proposed)}", values, len(proposed)))
    return proposed


def test_grid_search_proposes_each_combination_once() -> None:
    assert _drain(GridSearch(RANGES, LOSS)) == [
        {"Args/batch": 16, "Args/opt": "adam"},
        {"Args/batch": 16, "Args/opt": "sgd"},
        {"Args/batch": 32, "Args/opt": "adam"},
        {"Args/batch": 32, "Args/opt": "sgd"},
    ]


def test_grid_search_skips_what_an_earlier_run_tried() -> None:
    grid = GridSearch(RANGES, LOSS)
    grid.adopt([Trial("old", {"Args/batch": 16, "Args/opt": "sgd"}, 1)])
    assert {"Args/batch": 16, "Args/opt": "sgd"} not in _drain(grid)
    assert len(_drain(GridSearch(RANGES, LOSS))) == 4


def test_random_search_is_repeatable_with_a_seed_and_never_repeats_a_set() -> None:
    first = _drain(RandomSearch(RANGES, LOSS, seed=11))
    assert first == _drain(RandomSearch(RANGES, LOSS, seed=11))
    assert len(first) == 4  # the four sets, then nothing new to draw
    assert all(isinstance(v["Args/batch"], int) for v in first)


def test_the_objective_reads_last_or_global_values() -> None:
    summary = {"loss": {"val": {"last": 0.5, "last_iter": 9, "min": 0.2, "min_iter": 4,
                                "max": 2.0, "max_iter": 0}}}  # fmt: skip
    assert Objective("loss", "val", "min").value(summary) == (0.5, 9)
    assert Objective("loss", "val", "min_global").value(summary) == (0.2, 4)
    assert Objective("loss", "val", "max_global").value(summary) == (2.0, 0)
    assert Objective("loss", "train", "min").value(summary) == (None, None)
    assert Objective("acc", "val", "max").better(0.9, 0.8)
    assert LOSS.better(0.1, 0.2)
    assert sorted([0.3, None, 0.1], key=LOSS.sort_key) == [0.1, 0.3, None]
    with pytest.raises(InvalidInput):
        Objective("loss", "val", "lowest")


def test_optuna_asks_typed_values_prunes_from_the_series_and_learns_earlier_trials() -> None:
    import optuna

    from tunelab.automation.optuna import OptimizerOptuna

    ranges = [*RANGES, LogUniformParameterRange("Args/lr", -4, -1)]
    strategy = OptimizerOptuna(
        ranges,
        LOSS,
        optuna_sampler=optuna.samplers.TPESampler(seed=1),
        optuna_pruner=optuna.pruners.ThresholdPruner(upper=10.0),
    )
    assert strategy.wants_series
    values = strategy.next_parameters()
    assert values is not None
    assert type(values["Args/batch"]) is int and values["Args/batch"] in (16, 32)
    assert values["Args/opt"] in ("adam", "sgd") and 1e-4 <= values["Args/lr"] <= 1e-1
    trial = Trial("t1", values, 1, status="running")
    strategy.trial_started(trial)
    assert not strategy.should_prune(trial, [(0, 5.0), (1, 4.0)])
    assert strategy.should_prune(trial, [(0, 5.0), (1, 4.0), (2, 50.0)])
    trial.status, trial.stop_reason = "stopped", "pruned"
    strategy.trial_ended(trial)
    assert [t.state.name for t in strategy.study.trials] == ["PRUNED"]

    earlier = [
        Trial("old1", {"Args/batch": 32, "Args/opt": "sgd", "Args/lr": 0.01}, 1, "completed", 0.5),
        Trial("old2", {"Args/batch": 48, "Args/opt": "sgd", "Args/lr": 0.01}, 2, "completed", 0.1),
        Trial("old3", {"Args/batch": 16, "Args/opt": "adam", "Args/lr": 0.01}, 3, "failed"),
    ]
    strategy.adopt_results(earlier)  # batch 48 lies outside the range: left out
    assert [t.value for t in strategy.study.trials if t.state.name == "COMPLETE"] == [0.5]
    assert strategy.study.best_trial.params["Args/opt"] == 1  # "sgd", by position
