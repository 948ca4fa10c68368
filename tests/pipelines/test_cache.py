"""The cache key covers the step's code, resolved values, and the artifacts it reads."""

from __future__ import annotations

import copy
from typing import Any

from tunelab.pipelines.cache import cache_key

STEP: dict[str, Any] = {
    "name": "data",
    "execution": {
        "repository": "https://git/x.git",
        "commit": "abc",
        "entry_point": "data.py",
        "working_dir": ".",
        "diff": "",
    },
    "hyperparameters": {"Args": {"rows": {"value": "5", "type": "int", "description": "n"}}},
    "configuration": {"model": {"type": "dictionary", "text": '{"depth": 2}'}},
}


def changed(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    step = copy.deepcopy(STEP)
    target = step
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return step


def test_the_same_inputs_give_the_same_key_and_descriptions_or_names_do_not_count() -> None:
    key = cache_key(STEP, {"data.table": "aa"})
    assert cache_key(copy.deepcopy(STEP), {"data.table": "aa"}) == key
    assert cache_key(changed(("name",), "other"), {"data.table": "aa"}) == key
    assert cache_key(changed(("hyperparameters", "Args", "rows", "description"), "x"),
                     {"data.table": "aa"}) == key  # fmt: skip


def test_code_values_types_and_input_artifacts_change_the_key() -> None:
    key = cache_key(STEP, {"data.table": "aa"})
    others = [
        cache_key(changed(("execution", "commit"), "def"), {"data.table": "aa"}),
        cache_key(changed(("execution", "diff"), "diff --git a/x b/x"), {"data.table": "aa"}),
        cache_key(changed(("hyperparameters", "Args", "rows", "value"), "6"), {"data.table": "aa"}),
        cache_key(
            changed(("hyperparameters", "Args", "rows", "type"), "str"), {"data.table": "aa"}
        ),
        cache_key(
            changed(("configuration", "model", "text"), '{"depth": 3}'), {"data.table": "aa"}
        ),
        cache_key(STEP, {"data.table": "bb"}),
    ]
    assert key not in others and len(set(others)) == len(others)
