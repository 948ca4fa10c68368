"""Hyperparameters, configuration and user properties: replace vs merge, in bulk statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from tunelab.errors import InvalidInput, NotFound
from tunelab.store.task_inputs import merge_inputs, read_inputs, replace_inputs
from tunelab.store.tasks import create_task, get_task


def param(value: str, type_: str = "str", description: str = "") -> dict[str, str]:
    return {"value": value, "type": type_, "description": description}


@pytest.fixture
def task_id(engine: sa.Engine) -> str:
    with engine.begin() as conn:
        task = create_task(
            conn,
            name="t",
            project="p",
            hyperparameters={
                "Args": {"lr": param("0.1", "float"), "epochs": param("10", "int")},
                "General": {"seed": param("1", "int")},
            },
            configuration={"General": {"text": "{}"}, "Extra": {"text": "a: 1", "type": "yaml"}},
            user_properties={"owner": {"value": "alice"}, "team": {"value": "cv"}},
        )
        task_id: str = task["id"]
        return task_id


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[str]]:
    """The SQL statements run on ``engine`` meanwhile (an executemany counts once)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_put_replaces_every_hyperparameter(engine: sa.Engine, task_id: str) -> None:
    with engine.begin() as conn:
        stored = replace_inputs(conn, task_id, "hyperparameters", {"Args": {"lr": {"value": "1"}}})
        assert stored == {"Args": {"lr": param("1")}}
        assert get_task(conn, task_id)["hyperparameters"] == stored


def test_patch_replaces_given_keeps_others_and_null_deletes(
    engine: sa.Engine, task_id: str
) -> None:
    with engine.begin() as conn:
        stored = merge_inputs(
            conn,
            task_id,
            "hyperparameters",
            {
                "Args": {"lr": param("0.01", "float", "smaller"), "epochs": None},
                "New": {"x": {"value": "y"}},
            },
        )
        assert stored == {
            "Args": {"lr": param("0.01", "float", "smaller")},
            "General": {"seed": param("1", "int")},
            "New": {"x": param("y")},
        }
        assert read_inputs(conn, task_id, "hyperparameters") == stored


def test_patch_null_section_deletes_the_whole_section(engine: sa.Engine, task_id: str) -> None:
    with engine.begin() as conn:
        stored = merge_inputs(conn, task_id, "hyperparameters", {"Args": None})
        assert stored == {"General": {"seed": param("1", "int")}}


def test_configuration_and_user_properties_merge_and_replace(
    engine: sa.Engine, task_id: str
) -> None:
    with engine.begin() as conn:
        configuration = merge_inputs(
            conn, task_id, "configuration", {"Extra": None, "General": {"text": '{"a": 2}'}}
        )
        assert configuration == {
            "General": {"text": '{"a": 2}', "type": "dictionary", "description": ""}
        }
        properties = merge_inputs(conn, task_id, "user_properties", {"team": None})
        assert properties == {"owner": param("alice")}
        assert replace_inputs(conn, task_id, "user_properties", {}) == {}
        task = get_task(conn, task_id)
        assert task["user_properties"] == {}
        assert task["configuration"] == configuration


def test_a_write_moves_the_task_last_update(engine: sa.Engine, task_id: str) -> None:
    with engine.begin() as conn:
        before = get_task(conn, task_id)["last_update"]
        merge_inputs(conn, task_id, "user_properties", {"x": {"value": "1"}})
        assert get_task(conn, task_id)["last_update"] > before


@pytest.mark.parametrize(
    "data",
    [
        {"Args": {"lr": None}},  # null deletes only when merging
        {"configs/../b": {"lr": param("1")}},  # a section names a URL path: no ".." part
        {"": {"lr": param("1")}},
        {"Args": {"": param("1")}},
        {"Args": {"lr": {"type": "float"}}},
        {"Args": {"lr": {"value": 0.1}}},
        {"Args": {"lr": {"value": "1", "unit": "s"}}},
        {"Args": {"lr": {"value": "1", "type": "t" * 65}}},
        {"Args": ["lr"]},
    ],
)
def test_bad_hyperparameters_are_refused(
    engine: sa.Engine, task_id: str, data: dict[str, Any]
) -> None:
    with engine.begin() as conn:
        before = read_inputs(conn, task_id, "hyperparameters")
    with pytest.raises(InvalidInput), engine.begin() as conn:
        replace_inputs(conn, task_id, "hyperparameters", data)
    with engine.begin() as conn:
        assert read_inputs(conn, task_id, "hyperparameters") == before


def test_configuration_needs_text(engine: sa.Engine, task_id: str) -> None:
    with engine.begin() as conn, pytest.raises(InvalidInput, match="text"):
        merge_inputs(conn, task_id, "configuration", {"General": {"value": "{}"}})


def test_unknown_task(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(NotFound):
            merge_inputs(conn, "0" * 32, "hyperparameters", {"A": {"b": param("1")}})
        with pytest.raises(NotFound):
            replace_inputs(conn, "0" * 32, "configuration", {})


def test_large_writes_take_a_fixed_number_of_statements(engine: sa.Engine, task_id: str) -> None:
    many = {f"S{s}": {f"p{i}": param(str(i), "int") for i in range(100)} for s in range(10)}
    with engine.begin() as conn:
        with statements(engine) as replaced:
            replace_inputs(conn, task_id, "hyperparameters", many)
        merge = {"S0": {f"p{i}": None for i in range(50)}, "S1": None, "S2": many["S3"]}
        with statements(engine) as merged:
            stored = merge_inputs(conn, task_id, "hyperparameters", merge)
    # touch, delete, insert, read back; the merge adds one delete for whole sections.
    assert len(replaced) <= 4
    assert len(merged) <= 5
    assert len(stored["S0"]) == 50
    assert "S1" not in stored
    assert stored["S2"] == many["S3"]
    assert sum(len(section) for section in stored.values()) == 50 + 8 * 100
