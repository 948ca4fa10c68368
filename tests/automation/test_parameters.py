"""The ranges: grid values, the types they yield, steps, log scale, and their typed spec."""

from __future__ import annotations

import math
import random

import pytest

from tunelab.automation import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    Parameter,
    ParameterSet,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from tunelab.automation.param_specs import parse_parameter
from tunelab.automation.parameters import names_of
from tunelab.errors import InvalidInput


def _values(param: Parameter, name: str) -> list:
    return [item[name] for item in param.to_list()]


def test_a_stepped_uniform_range_lists_each_step_and_the_max() -> None:
    param = UniformParameterRange("Args/dropout", 0.1, 0.5, step_size=0.1)
    assert _values(param, "Args/dropout") == [0.1, 0.2, 0.3, 0.4, 0.5]
    no_max = UniformParameterRange("Args/dropout", 0.1, 0.5, 0.1, include_max_value=False)
    assert _values(no_max, "Args/dropout") == [0.1, 0.2, 0.3, 0.4]
    draws = {param.get_value(random.Random(i))["Args/dropout"] for i in range(200)}
    assert draws == {0.1, 0.2, 0.3, 0.4, 0.5}


def test_a_uniform_range_without_a_step_draws_floats_inside_it() -> None:
    param = UniformParameterRange("Args/m", 0.5, 0.9)
    rng = random.Random(1)
    draws = [param.get_value(rng)["Args/m"] for _ in range(100)]
    assert all(type(v) is float and 0.5 <= v <= 0.9 for v in draws)
    grid = _values(param, "Args/m")
    assert len(grid) == 101 and grid[0] == 0.5 and grid[-1] == 0.9


def test_an_integer_range_yields_ints() -> None:
    param = UniformIntegerParameterRange("Args/batch", 8, 64, step_size=8)
    assert _values(param, "Args/batch") == [8, 16, 24, 32, 40, 48, 56, 64]
    assert all(type(v) is int for v in _values(param, "Args/batch"))
    rng = random.Random(2)
    assert all(type(param.get_value(rng)["Args/batch"]) is int for _ in range(50))
    assert _values(UniformIntegerParameterRange("a/b", 1, 3, include_max_value=False), "a/b") == [
        1,
        2,
    ]


def test_a_log_uniform_range_takes_exponents_like_clearml() -> None:
    param = LogUniformParameterRange("Args/lr", -4, -1, step_size=1)
    assert _values(param, "Args/lr") == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    rng = random.Random(3)
    draws = [param.get_value(rng)["Args/lr"] for _ in range(50)]
    assert all(type(v) is float for v in draws)
    continuous = LogUniformParameterRange("Args/lr", -4, -1)
    exponents = [math.log10(continuous.get_value(rng)["Args/lr"]) for _ in range(500)]
    assert min(exponents) >= -4 and max(exponents) <= -1
    # Spread over the exponents, not the values: about a third of draws fall in each decade.
    assert 100 < sum(1 for e in exponents if e < -3) < 230
    base2 = LogUniformParameterRange("Args/units", 4, 6, base=2, step_size=1)
    assert _values(base2, "Args/units") == [16.0, 32.0, 64.0]


def test_discrete_values_keep_their_types() -> None:
    param = DiscreteParameterRange("Args/opt", ["adam", 3, 0.5, True, None])
    assert _values(param, "Args/opt") == ["adam", 3, 0.5, True, None]
    assert [type(v) for v in _values(param, "Args/opt")] == [str, int, float, bool, type(None)]
    assert param.get_value(random.Random(4))["Args/opt"] in param.values


def test_a_parameter_set_yields_whole_combinations() -> None:
    combos = [{"Args/lr": 0.1, "Args/batch": 32}, {"Args/lr": 0.01, "Args/batch": 64}]
    param = ParameterSet(combos)
    assert param.to_list() == combos
    assert param.get_value(random.Random(5)) in combos
    assert names_of([param, DiscreteParameterRange("Args/opt", ["a"])]) == [
        "Args/lr",
        "Args/batch",
        "Args/opt",
    ]


@pytest.mark.parametrize(
    "param",
    [
        UniformParameterRange("Args/a", 0, 1, step_size=0.25),
        UniformIntegerParameterRange("Args/b", 1, 9, step_size=2),
        LogUniformParameterRange("Args/c", -3, 0, base=2),
        DiscreteParameterRange("Args/d", ["x", 1, 2.5]),
        ParameterSet([{"Args/e": 1, "Args/f": "y"}]),
    ],
)
def test_a_range_reads_back_from_its_typed_spec(param: Parameter) -> None:
    spec = param.to_dict()
    assert Parameter.from_dict(spec) == param
    assert Parameter.from_dict(spec).to_list() == param.to_list()


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(InvalidInput):
        UniformParameterRange("Args/a", 2, 1)
    with pytest.raises(InvalidInput):
        UniformParameterRange("Args/a", 0, 1, step_size=0)
    with pytest.raises(InvalidInput):
        UniformIntegerParameterRange("Args/a", 0, 10, step_size=0)
    with pytest.raises(InvalidInput):
        DiscreteParameterRange("Args/a", [])
    with pytest.raises(InvalidInput):
        LogUniformParameterRange("Args/a", 0, 1, base=1)


def test_ranges_written_as_text() -> None:
    lr = parse_parameter("Args/lr=loguniform:1e-4:1e-1")
    assert isinstance(lr, LogUniformParameterRange)
    assert (lr.min_value, lr.max_value) == pytest.approx((-4, -1))
    batch = parse_parameter("Args/batch=int:8:64:8")
    assert batch == UniformIntegerParameterRange("Args/batch", 8, 64, step_size=8)
    assert parse_parameter("Args/opt=choice:adam,sgd,3,0.5") == DiscreteParameterRange(
        "Args/opt", ["adam", "sgd", 3, 0.5]
    )
    assert parse_parameter("Args/m=uniform:0:1:0.5").to_list() == [
        {"Args/m": 0.0},
        {"Args/m": 0.5},
        {"Args/m": 1.0},
    ]
    for bad in ("lr=int:1:2", "Args/lr", "Args/lr=gauss:1:2", "Args/lr=int:a:b", "Args/x=int:1"):
        with pytest.raises(InvalidInput):
            parse_parameter(bad)


def test_wide_and_fine_ranges_are_drawn_from_without_listing_them() -> None:
    """A draw listed every value of the range first: ``int:0:10**8`` took gigabytes per
    trial, ``uniform:0:1:1e-9`` too, and a range past a machine word raised OverflowError."""
    import tracemalloc

    rng = random.Random(3)
    tracemalloc.start()
    try:
        wide = UniformIntegerParameterRange("Args/seed", 0, 10**8)
        fine = UniformParameterRange("Args/m", 0, 1, step_size=1e-9)
        draws = [wide.get_value(rng)["Args/seed"] for _ in range(50)]
        steps = [fine.get_value(rng)["Args/m"] for _ in range(50)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    assert all(0 <= d <= 10**8 for d in draws) and len(set(draws)) > 40
    assert all(0 <= s <= 1 and round(s * 1e9) == round(s * 1e9, 6) for s in steps)
    huge = parse_parameter(f"Args/n=int:0:{10**23}:7").get_value(rng)["Args/n"]
    assert 0 <= huge <= 10**23 and huge % 7 == 0
    assert UniformIntegerParameterRange("Args/a", 5, 5).get_value(rng) == {"Args/a": 5}

    # A seed still gives the draws it gave when the values were listed and chosen from.
    ranged = UniformIntegerParameterRange("Args/b", 8, 64, step_size=8)
    new, old = random.Random(11), random.Random(11)
    assert [ranged.get_value(new)["Args/b"] for _ in range(20)] == [
        old.choice(list(range(8, 65, 8))) for _ in range(20)
    ]
    stepped = UniformParameterRange("Args/m", 0, 1, step_size=0.1)
    new, old = random.Random(12), random.Random(12)
    assert [stepped.get_value(new)["Args/m"] for _ in range(20)] == [
        old.choice([round(i * 0.1, 12) for i in range(11)]) for _ in range(20)
    ]


def test_a_grid_too_long_to_list_is_refused_with_what_to_do() -> None:
    with pytest.raises(InvalidInput, match=r"1,000,001 grid values.*random or optuna"):
        UniformIntegerParameterRange("Args/seed", 0, 10**6).to_list()
    with pytest.raises(InvalidInput, match="grid values"):
        UniformParameterRange("Args/m", 0, 1, step_size=1e-7).to_list()
    assert len(UniformIntegerParameterRange("Args/seed", 1, 100_000).to_list()) == 100_000


def test_bounds_that_are_not_finite_say_so() -> None:
    for spec in ("Args/a=uniform:0:1e999", "Args/a=uniform:nan:1", "Args/a=loguniform:1:inf"):
        with pytest.raises(InvalidInput, match="finite numbers"):
            parse_parameter(spec)
