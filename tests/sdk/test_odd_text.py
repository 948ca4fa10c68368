"""Odd text in what a script hands the SDK (a NUL, half a surrogate pair from a file name
read with ``surrogateescape``) never fails the script and never costs the data sent with it:
it is stored as U+FFFD."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tunelab.sdk.transport import ApiClient


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _run(api_url: str, tmp_path: Path, body: str) -> str:
    result = run_script(write_script(tmp_path / "code", body), script_env(api_url, tmp_path))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_task_init_with_odd_names_and_tags_starts_the_run(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    """The server refused the whole task: ``Task.init`` raised and the script ended."""
    project = unique("sdk/odd")
    body = f"""
        from tunelab import Task
        task = Task.init(project_name={project!r} + "\\x00", task_name="run \\udcff",
                         tags=["t\\x00", "plain"])
        task.add_tags(["\\udcff"])
        print("TASK", task.id)
    """
    task_id = _run(api_url, tmp_path, body).split("TASK ")[1].split()[0]
    task = client.get_task(task_id)
    assert (task["project"]["name"], task["name"]) == (f"{project}\ufffd", "run \ufffd")
    assert sorted(task["tags"]) == sorted(["t\ufffd", "plain", "\ufffd"])
    assert task["status"] == "completed"


def test_report_text_with_half_a_surrogate_pair_neither_fails_nor_loses_the_line(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    """``report_text`` of a name read with ``surrogateescape`` could fail the script (a
    UnicodeEncodeError on a strict UTF-8 stream) and cost the console batch it was in."""
    project = unique("sdk/logs")
    body = f"""
        from tunelab import Task
        task = Task.init(project_name={project!r}, task_name="odd text")
        task.get_logger().report_text("file \\udcff read")
        print("after")
    """
    stdout = _run(api_url, tmp_path, body)
    assert "file \ufffd read" in stdout and "after" in stdout
    (task,) = client.list_tasks(project=project)["items"]
    console = [line["text"] for line in client.get_console(task["id"])["lines"]]
    assert "file \ufffd read" in console and "after" in console, console
