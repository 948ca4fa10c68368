"""A run that starts while the server is unreachable is recorded offline, and uploaded once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tests.services import ServerProcess, free_port
from tests.waiting import wait_for
from tunelab.errors import ConfigError
from tunelab.sdk.config import load_config
from tunelab.sdk.transport import ApiClient

# The server may appear while the script runs: it waits for the test's go-ahead file.
TRAIN = """
import sys, time
from pathlib import Path
from tunelab import Task

task = Task.init(project_name=PROJECT, task_name="unreachable")
logger = task.get_logger()
for i in range(10):
    logger.report_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
print("before the server")
if GO:
    Path(GO + ".ready").write_text("ready")
    deadline = time.monotonic() + 30
    while not Path(GO).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
for i in range(10, 20):
    logger.report_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
print("after the server", file=sys.stderr)
"""


@pytest.fixture(scope="module")
def late_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose port is known before it runs; the test that needs it starts it."""
    proc = ServerProcess(tmp_path_factory.mktemp("late-server"))
    yield proc
    proc.stop()


def _script(folder: Path, project: str, go: Path | None) -> Path:
    header = f"PROJECT = {project!r}\nGO = {str(go) if go else ''!r}\n"
    return write_script(folder, header + TRAIN)


def _sessions(home: Path) -> list[Path]:
    return sorted((home / ".tunelab" / "offline").iterdir())


def _sync(folder: Path, api_url: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", "sync", str(folder)],
        env=script_env(api_url, home),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_wait_is_configured(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    assert load_config(home).start_timeout == 5.0
    assert load_config({**home, "TUNELAB_START_TIMEOUT": "0"}).start_timeout == 0.0
    assert load_config({**home, "TUNELAB_START_TIMEOUT": "1.5"}).start_timeout == 1.5
    (tmp_path / "tunelab.toml").write_text("start_timeout = 20\n")
    assert load_config(home, tmp_path / "tunelab.toml").start_timeout == 20.0
    for bad in ("-1", "soon"):
        with pytest.raises(ConfigError, match="TUNELAB_START_TIMEOUT"):
            load_config({**home, "TUNELAB_START_TIMEOUT": bad})


def test_a_closed_port_records_the_run_offline(tmp_path: Path) -> None:
    project = unique("sdk/unreachable")
    script = _script(tmp_path / "code", project, None)
    url = f"http://127.0.0.1:{free_port()}"
    result = run_script(script, script_env(url, tmp_path, TUNELAB_START_TIMEOUT="0.5"))

    assert result.returncode == 0, result.stderr
    assert "before the server" in result.stdout and "after the server" in result.stderr
    (folder,) = _sessions(tmp_path)
    assert (folder / "session.jsonl").is_file()
    assert "no answer from the Tunelab server" in result.stderr, result.stderr
    assert f"recording this run offline in {folder}" in result.stderr, result.stderr
    assert f"tunelab sync {folder}" in result.stderr, result.stderr


def test_a_server_that_comes_back_gets_the_run_once(
    late_server: ServerProcess, tmp_path: Path
) -> None:
    project = unique("sdk/unreachable")
    go = tmp_path / "go"
    script = _script(tmp_path / "code", project, go)
    env = script_env(late_server.url, tmp_path, TUNELAB_START_TIMEOUT="0")
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=script.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: go.with_name("go.ready").exists() or proc.poll() is not None, 30)
        late_server.start()
        go.write_text("go")
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "before the server" in stdout

    with ApiClient(late_server.url) as client:
        found = client.list_tasks(project=project)
        assert found["total"] == 1, found
        task = client.get_task(found["items"][0]["id"])
        assert task["status"] == "completed", task
        assert task["id"] in stderr, stderr  # the run says where it went
        loss = client.get_scalars(task["id"], max_points=0)["metrics"]["loss"]["train"]
        assert loss["x"] == list(range(20))
        console = [line["text"] for line in client.get_console(task["id"])["lines"]]
        assert console.count("before the server") == 1, console
        assert console.count("after the server") == 1, console

        # A later manual sync of the same folder adds nothing.
        (folder,) = _sessions(tmp_path)
        again = _sync(folder, late_server.url, tmp_path)
        assert again.returncode == 0, again.stderr
        assert task["id"] in again.stdout
        assert client.list_tasks(project=project)["total"] == 1
        assert client.get_metrics(task["id"])["metrics"]["loss"]["train"]["count"] == 20
        lines = client.get_console(task["id"])["lines"]
        assert [line["text"] for line in lines] == console

        # Even every line sent again (the progress lost, the task's id kept) stores nothing
        # twice: each batch of points and console lines carries its id.
        progress = json.loads((folder / "synced.json").read_text())
        (folder / "synced.json").write_text(json.dumps({**progress, "done_lines": 0}))
        replay = _sync(folder, late_server.url, tmp_path)
        assert replay.returncode == 0, replay.stderr
        assert client.list_tasks(project=project)["total"] == 1
        assert client.get_metrics(task["id"])["metrics"]["loss"]["train"]["count"] == 20
        lines = client.get_console(task["id"])["lines"]
        assert [line["text"] for line in lines] == console
