"""Names that pages put in URL paths (configuration objects, hyperparameter sections, queues,
workers) are refused when a browser could not ask for them by their own URL: with a ``\\``
or a control character, or ``.``/``..`` whole; sections, queues and workers also with a
``/`` (a configuration object's ``/`` is encoded; no part between them may be ``.`` or
``..``). Dots inside a name are fine, and a name stored before the rule can still be edited
and deleted.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tunelab.errors import InvalidInput
from tunelab.store import queues, workers
from tunelab.store.schema import task_configuration, task_params
from tunelab.store.task_inputs import merge_inputs, read_inputs, replace_inputs
from tunelab.store.tasks import create_task

HOSTILE = [
    "../../../api/v1/files/x.html",
    "a/./b",
    "..",
    ".",
    "a\\b",
    "tab\there",
    "nul\x00",
    "\x85",
]
FINE = ["config.yaml", "..hidden", "v1..v2", "Model (v2)", "é ü 模型"]
# A configuration object's name may hold "/"; a segment's may not.
CONFIG_FINE = [*FINE, "data/aug.yaml", "a/..b/c"]


@pytest.fixture
def task_id(engine: sa.Engine) -> str:
    with engine.begin() as conn:
        made: str = create_task(conn, name="t", project="vision/resnet")["id"]
    return made


@pytest.mark.parametrize("name", HOSTILE)
def test_a_configuration_object_cannot_be_named_what_a_url_cannot_hold(
    engine: sa.Engine, task_id: str, name: str
) -> None:
    for write in (merge_inputs, replace_inputs):
        with engine.begin() as conn, pytest.raises(InvalidInput, match="appears in URLs"):
            write(conn, task_id, "configuration", {name: {"text": "x"}})
    with engine.begin() as conn, pytest.raises(InvalidInput, match="appears in URLs"):
        create_task(conn, name="t2", project="p", configuration={name: {"text": "x"}})


@pytest.mark.parametrize("name", [n for n in HOSTILE if "/" not in n])
def test_a_hyperparameter_section_cannot_be_named_what_a_url_cannot_hold(
    engine: sa.Engine, task_id: str, name: str
) -> None:
    with engine.begin() as conn, pytest.raises(InvalidInput, match="appears in URLs"):
        merge_inputs(conn, task_id, "hyperparameters", {name: {"lr": {"value": "1"}}})


def test_names_with_dots_inside_and_other_inputs_keep_their_slashes(
    engine: sa.Engine, task_id: str
) -> None:
    with engine.begin() as conn:
        merge_inputs(conn, task_id, "configuration", {n: {"text": n} for n in CONFIG_FINE})
        merge_inputs(conn, task_id, "hyperparameters", {n: {"x/y": {"value": "1"}} for n in FINE})
        # User properties and parameter names are never path segments.
        merge_inputs(conn, task_id, "user_properties", {"a/../b": {"value": "1"}})
        assert set(read_inputs(conn, task_id, "configuration")) == set(CONFIG_FINE)
        assert read_inputs(conn, task_id, "hyperparameters")["config.yaml"]["x/y"]["value"] == "1"
        assert set(read_inputs(conn, task_id, "user_properties")) == {"a/../b"}


def test_a_name_stored_before_the_rule_can_be_edited_and_deleted(
    engine: sa.Engine, task_id: str
) -> None:
    old = "../../../api/v1/files/x.html"
    with engine.begin() as conn:
        conn.execute(task_configuration.insert().values(task_id=task_id, name=old, text="a"))
        conn.execute(
            task_params.insert().values(task_id=task_id, section="..", name="lr", value="1")
        )
        merge_inputs(conn, task_id, "configuration", {old: {"text": "b"}})
        merge_inputs(conn, task_id, "hyperparameters", {"..": {"lr": {"value": "2"}}})
        assert read_inputs(conn, task_id, "configuration")[old]["text"] == "b"
        assert read_inputs(conn, task_id, "hyperparameters")[".."]["lr"]["value"] == "2"
        replace_inputs(conn, task_id, "configuration", {old: {"text": "c"}})
        # Another hostile name next to it is still refused.
        with pytest.raises(InvalidInput, match="appears in URLs"):
            merge_inputs(conn, task_id, "configuration", {old: {"text": "d"}, "..": {"text": ""}})
    with engine.begin() as conn:
        merge_inputs(conn, task_id, "configuration", {old: None})
        merge_inputs(conn, task_id, "hyperparameters", {"..": None})
        assert read_inputs(conn, task_id, "configuration") == {}
        assert read_inputs(conn, task_id, "hyperparameters") == {}


@pytest.mark.parametrize("name", [*HOSTILE, "a/b"])
def test_queues_and_workers_cannot_be_named_what_a_url_cannot_hold(
    engine: sa.Engine, name: str
) -> None:
    # (A name that is only white space, such as NEL, is refused as empty.)
    with engine.begin() as conn, pytest.raises(InvalidInput, match="queue name"):
        queues.create_queue(conn, name)
    with engine.begin() as conn, pytest.raises(InvalidInput, match="worker id"):
        workers.register(conn, name, ["default"])
    with engine.begin() as conn:
        queues.create_queue(conn, "gpu.a100")
        workers.register(conn, "host.example.org:0", ["gpu.a100"])
