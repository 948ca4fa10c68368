"""Inputs a script connects that the server cannot store as they are (a dict that holds
itself, a configuration JSON cannot write, an empty or overlong key, a value past the limit)
never fail the script and never cost the entries sent with them: the rest is stored, and a
capture warning says what was left out or cut."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tunelab.domain import input_limits
from tunelab.sdk.parameters import flatten
from tunelab.sdk.transport import ApiClient


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def test_flatten_keeps_a_cycle_and_deep_nesting_as_values() -> None:
    cycle: dict[str, object] = {"a": 1}
    cycle["self"] = cycle
    assert flatten(cycle) == {"a": 1, "self": cycle}
    assert flatten({"top": cycle}) == {"top/a": 1, "top/self": cycle}
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(5_000):  # deeper than Python's recursion limit
        deep = {"d": deep}
    (name,) = flatten(deep)
    assert name == "d/" * 5_000 + "leaf"
    assert flatten({1: {(2, 3): "x"}, "empty": {}}) == {"1/(2, 3)": "x", "empty": {}}


def test_odd_connected_inputs_leave_the_rest_stored_and_say_what_was_not(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    """Before, a dict that held itself raised RecursionError from ``connect``, and one key
    the server refuses made it refuse the whole section (or every user property sent)."""
    project = unique("sdk/inputs")
    body = f"""
        from tunelab import Task
        task = Task.init(project_name={project!r}, task_name="odd inputs")
        loop = {{"lr": 0.1}}
        loop["self"] = loop
        task.connect(loop, name="Loop")
        task.connect({{"": 1, "k" * 600: 2, "big": "v" * 1_100_000, "kept": 3}}, name="Args")
        task.set_user_properties({{"": "x", "owner": "ann"}})
        task.connect_configuration({{"depth": 3}}, name="")
        task.connect_configuration({{"depth": 4}}, name="model")
        task.connect_configuration({{"loop": loop, (1, 2): "pair"}}, name="odd")
        print("TASK", task.id)
    """
    result = run_script(write_script(tmp_path / "code", body), script_env(api_url, tmp_path))
    assert result.returncode == 0, result.stderr
    task = client.get_task(result.stdout.split("TASK ")[1].split()[0])

    loop = task["hyperparameters"]["Loop"]
    assert sorted(loop) == ["lr", "self/lr", "self/self"]
    assert loop["self/self"]["value"] == "{'lr': 0.1, 'self': {...}}"
    args = task["hyperparameters"]["Args"]
    assert sorted(args) == ["big", "kept"]
    assert args["big"]["value"] == "v" * input_limits.PARAMETER_VALUE
    assert args["kept"]["value"] == "3"
    assert task["user_properties"]["owner"]["value"] == "ann"
    assert sorted(task["configuration"]) == ["model", "odd"]
    odd = task["configuration"]["odd"]
    assert (odd["type"], odd["text"]) == (
        "text",
        "{'loop': {'lr': 0.1, 'self': {...}}, (1, 2): 'pair'}",
    )

    reasons = {w["what"]: w["reason"] for w in task["capture_warnings"]}
    assert reasons["the hyperparameter 'Args/'"] == "its name is empty: left out"
    assert reasons[f"the hyperparameter 'Args/{'k' * 75}…'"] == (
        "its name is longer than 512 characters: left out"
    )
    assert reasons["the hyperparameter 'Args/big'"] == (
        "its text has 1,100,000 characters: cut to the first 1,048,576"
    )
    assert reasons["the user property ''"] == "its name is empty: left out"
    assert reasons["the configuration object ''"] == "its name is empty: left out"
    assert reasons["the configuration object 'odd' as JSON"].endswith("; stored as its repr")
    assert "Traceback" not in result.stderr


def test_what_the_server_refuses_is_a_warning_on_the_task(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    """The run's sender drops what the server refuses, and points that are not numbers;
    before, only the script's stderr said so, and the task showed nothing of it."""
    project = unique("sdk/refused")
    body = f"""
        from tunelab import Task
        task = Task.init(project_name={project!r}, task_name="refused")
        task.set_comment("c" * 70_000)  # past the server's 64 KiB
        task.get_logger().report_scalar("loss", "train", 0.5, iteration=1)
        task.get_logger().report_scalar("loss", "train", "high", iteration=2)  # not a number
        print("TASK", task.id)
    """
    result = run_script(write_script(tmp_path / "code", body), script_env(api_url, tmp_path))
    assert result.returncode == 0, result.stderr
    task_id = result.stdout.split("TASK ")[1].split()[0]
    task = client.get_task(task_id)
    (warning,) = [w for w in task["capture_warnings"] if w["what"].startswith("update_task")]
    assert warning["what"] == f"update_task of task {task_id}"
    assert warning["reason"].startswith("the server refused it, so it was dropped: ")
    assert "comment" in warning["reason"]
    reasons = {w["what"]: w["reason"] for w in task["capture_warnings"]}
    assert reasons["1 scalar point"].startswith("a value that is not a number")
    assert client.get_metrics(task_id)["metrics"]["loss"]["train"]["last"] == 0.5


def test_an_artifact_name_the_server_refuses_is_refused_at_the_call(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    """The SDK's check let '.' and '..' (and a backslash) through: the file was uploaded,
    then its record refused, leaving a file in storage that nothing points at."""
    project = unique("sdk/artifact-names")
    body = f"""
        from tunelab import Task
        from tunelab.errors import InvalidInput
        task = Task.init(project_name={project!r}, task_name="names")
        for name in (".", "..", "a\\\\b"):
            try:
                task.upload_artifact(name, artifact_object={{"k": 1}}, wait_on_upload=True)
            except InvalidInput as exc:
                print("REFUSED", repr(name), "not '.' or '..'" in str(exc))
        task.upload_artifact("kept", artifact_object={{"k": 1}}, wait_on_upload=True)
        print("TASK", task.id)
    """
    result = run_script(write_script(tmp_path / "code", body), script_env(api_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("REFUSED") == 3 and "False" not in result.stdout
    task = client.get_task(result.stdout.split("TASK ")[1].split()[0])
    assert list(task["artifacts"]) == ["kept"] and task["capture_warnings"] == []
