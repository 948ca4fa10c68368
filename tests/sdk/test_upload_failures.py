"""An upload that fails is recorded on the task (kind, name, reason, where the file is kept),
retried at ``task.flush()`` and at the end of the run, and by ``tunelab task retry-uploads``
on the machine that has the file; a success clears the warning. Reading an artifact records
the packages its format needs in the task's requirements."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tunelab.sdk.transport import ApiClient

BLOCKED = """
import sys
from pathlib import Path
from tunelab import Task
task = Task.init(project_name=sys.argv[1], task_name="blocked", output_uri=sys.argv[2])
print("TASK " + task.id, flush=True)
task.upload_artifact("summary", {"accuracy": 0.9})
task.flush()
print("FAILURES", len(task._client.get_task(task.id)["upload_failures"]), flush=True)
if len(sys.argv) > 3:          # the destination is reachable again before the run ends
    Path(sys.argv[3]).unlink()
    task.flush()
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _blocked(tmp_path: Path) -> Path:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the destination folder should be")
    return blocker


def _task_id(stdout: str) -> str:
    return next(x for x in stdout.splitlines() if x.startswith("TASK ")).split()[1]


def test_a_failed_upload_is_recorded_on_the_task_and_retried_from_the_command_line(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    blocker = _blocked(tmp_path)
    script = write_script(tmp_path / "code", BLOCKED)
    env = script_env(api_url, tmp_path / "home")
    result = run_script(script, env, unique("failed-upload"), blocker.as_uri())
    assert result.returncode == 0, result.stderr
    assert "FAILURES 1" in result.stdout
    task = client.get_task(_task_id(result.stdout))
    assert task["status"] == "completed" and task["artifacts"] == {}
    (failure,) = task["upload_failures"]
    assert (failure["kind"], failure["name"]) == ("artifact", "summary")
    assert "Not a directory" in failure["reason"]
    kept = Path(failure["path"])
    assert kept.is_file() and kept.is_relative_to(tmp_path / "home" / ".tunelab")

    blocker.unlink()  # the destination works again: the user retries from this machine
    retry = subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", "task", "retry-uploads", task["id"]],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert retry.returncode == 0, retry.stderr + retry.stdout
    assert "stored artifact 'summary'" in retry.stdout
    task = client.get_task(task["id"])
    assert task["upload_failures"] == []
    stored = task["artifacts"]["summary"]
    assert (stored["type"], stored["format"]) == ("dict", "json")
    from tunelab import Task

    assert Task.get_task(task_id=task["id"]).artifacts["summary"].get() == {"accuracy": 0.9}
    assert not kept.exists()


def test_a_flush_retries_a_failed_upload_and_a_success_clears_the_warning(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    blocker = _blocked(tmp_path)
    script = write_script(tmp_path / "code", BLOCKED)
    env = script_env(api_url, tmp_path / "home")
    result = run_script(script, env, unique("retried"), blocker.as_uri(), str(blocker))
    assert result.returncode == 0, result.stderr
    assert "FAILURES 1" in result.stdout  # recorded while the destination was blocked
    task = client.get_task(_task_id(result.stdout))
    assert task["upload_failures"] == []
    assert task["artifacts"]["summary"]["uri"].startswith(blocker.as_uri())


def test_an_upload_failure_needs_a_known_kind_and_a_name(api_url: str, client: ApiClient) -> None:
    task = client.create_task({"name": "t", "project": unique("failures")})
    import httpx

    response = httpx.post(
        f"{api_url}/api/v1/tasks/{task['id']}/upload_failures",
        json={"kind": "dataset", "name": "x", "reason": "r"},
    )
    assert 400 <= response.status_code < 500 and response.json()["error"]["code"]


SOURCE = """
import sys
import pandas as pd
from tunelab import Task
task = Task.init(project_name=sys.argv[1], task_name="source")
task.upload_artifact("features", pd.DataFrame({"a": [1, 2]}))
print("TASK " + task.id)
"""

READER = """
import sys
from tunelab import Task
task = Task.init(project_name=sys.argv[1], task_name="reader")
frame = Task.get_task(task_id=sys.argv[2]).artifacts["features"].get()
print("ROWS", len(frame))
"""


def test_reading_an_artifact_records_the_packages_its_format_needs(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("reader")
    env = script_env(api_url, tmp_path / "home")
    made = run_script(write_script(tmp_path / "source", SOURCE), env, project)
    assert made.returncode == 0, made.stderr
    script = write_script(tmp_path / "code", READER)
    result = run_script(script, env, project, _task_id(made.stdout))
    assert result.returncode == 0, result.stderr
    assert "ROWS 2" in result.stdout
    reader = client.list_tasks(project=project, search="reader")["items"][0]
    requirements = client.get_task(reader["id"])["execution"]["requirements"].lower()
    # The script imports neither: the artifact's format (parquet) needs them.
    assert "pandas==" in requirements and "pyarrow==" in requirements
