"""A run nobody runs any more does not stay ``running``: a script killed with SIGKILL fails
with "no activity" once the server's task timeout passes (and can then be reset from the
page), a stop nobody answers ends the task as stopped, and a Task.init that raises after
creating its task leaves it failed with the error."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.scripts import run_script, script_env, unique, write_script
from tests.services import ServerProcess
from tests.waiting import wait_for
from tunelab.sdk.transport import ApiClient

NO_ACTIVITY = "no activity: the process was lost"
STOP_UNANSWERED = "stopped: nobody answered the stop request"

TASK_TIMEOUT = 3.0
START_TIMEOUT = 120  # generous: a busy machine starts the server slowly

# Reports a few points, says its id, then idles: only its pings say it is alive.
IDLE_RUN = """
import time
from tunelab import Task

task = Task.init(project_name=PROJECT, task_name="idle")
logger = task.get_logger()
for i in range(100):
    logger.report_scalar("loss", "train", 1.0 / (i + 1), i)
task.flush()
print("task", task.id, flush=True)
time.sleep(600)
"""


def _started_task_id(out: Path) -> str | None:
    for line in out.read_text().splitlines() if out.exists() else []:
        if line.startswith("task "):
            return line.split()[1]
    return None


def test_a_run_killed_with_sigkill_fails_for_no_activity_and_the_page_resets_it(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path / "data", env={"TUNELAB_TASK_TIMEOUT": str(TASK_TIMEOUT)})
    server.start(timeout=START_TIMEOUT)
    proc: subprocess.Popen[bytes] | None = None
    client = ApiClient(server.url, timeout=30)
    try:
        project = unique("faults/lost")
        folder = tmp_path / "run"
        script = write_script(folder, f"PROJECT = {project!r}\n" + IDLE_RUN)
        env = script_env(server.url, folder, TUNELAB_HEARTBEAT_INTERVAL="0.5")
        with open(folder / "out", "wb") as out:
            proc = subprocess.Popen([sys.executable, str(script)], cwd=folder, env=env, stdout=out)
        task_id: str = wait_for(
            lambda: _started_task_id(folder / "out"), timeout=60, what="the script's task"
        )
        # Alive and idle for twice the timeout: its pings keep it running.
        time.sleep(2 * TASK_TIMEOUT)
        assert client.get_task(task_id)["status"] == "running"

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        killed_at = time.monotonic()
        task = wait_for(
            lambda: (t := client.get_task(task_id))["status"] != "running" and t,
            timeout=TASK_TIMEOUT + 30,
            what="the killed run to end",
        )
        assert task["status"] == "failed"
        assert task["status_reason"] == NO_ACTIVITY
        assert time.monotonic() - killed_at >= TASK_TIMEOUT - 1.0  # not before its timeout
        assert client.get_metrics(task_id)["metrics"]  # what it sent stays until the reset

        # The experiment page's Reset, as htmx posts it with the page's CSRF token.
        with httpx.Client(base_url=server.url, timeout=60) as page:
            page.get(f"/experiments/{task_id}")
            answer = page.post(
                f"/experiments/{task_id}/reset",
                data={},
                headers={"HX-Request": "true", "X-CSRF-Token": page.cookies["tunelab_csrf"]},
            )
        assert answer.status_code == 200, answer.text
        reset = client.get_task(task_id)
        assert reset["status"] == "draft"
        assert reset["status_reason"] == ""
        assert not client.get_metrics(task_id)["metrics"]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        client.close()
        server.stop()


def test_a_stop_nobody_answers_ends_the_task_stopped_after_the_grace_period(
    tmp_path: Path,
) -> None:
    grace = 2.0
    server = ServerProcess(tmp_path / "data", env={"TUNELAB_STOP_GRACE": str(grace)})
    server.start(timeout=START_TIMEOUT)
    client = ApiClient(server.url, timeout=30)
    try:
        # Running, with no process behind it: nobody will answer the stop.
        task = client.create_task(
            {"name": "orphan", "project": unique("faults/stop"), "status": "running"}
        )
        asked = client.stop_task(task["id"], reason="from the page")
        assert asked["status"] == "running" and asked["stop_requested"]
        asked_at = time.monotonic()
        ended = wait_for(
            lambda: (t := client.get_task(task["id"]))["status"] != "running" and t,
            timeout=grace + 30,
            what="the unanswered stop to end the task",
        )
        assert ended["status"] == "stopped"
        assert ended["status_reason"] == STOP_UNANSWERED
        assert not ended["stop_requested"]
        assert time.monotonic() - asked_at >= grace - 1.0
        # A stopped task is out of the running state: reset works on it.
        assert client.reset_task(task["id"])["status"] == "draft"
    finally:
        client.close()
        server.stop()


# A module named like a library the SDK hooks (joblib), whose attributes cannot be set:
# the model capture step of Task.init raises after the task exists.
LOCKED_MODULE_RUN = """
import sys, types

class Locked(types.ModuleType):
    def __setattr__(self, name, value):
        raise AttributeError(f"module {self.__name__!r} is read-only")

joblib = Locked("joblib")
joblib.__dict__["dump"] = lambda value, filename: None
sys.modules["joblib"] = joblib

from tunelab import Task

Task.init(project_name=PROJECT, task_name="broken start")
print("not reached")
"""


def test_a_crash_inside_task_init_leaves_the_task_failed_with_the_error(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    server.start(timeout=START_TIMEOUT)
    client = ApiClient(server.url, timeout=30)
    try:
        project = unique("faults/init")
        folder = tmp_path / "run"
        script = write_script(folder, f"PROJECT = {project!r}\n" + LOCKED_MODULE_RUN)
        result = run_script(script, script_env(server.url, folder), timeout=120)
        assert result.returncode != 0
        assert "not reached" not in result.stdout
        assert "read-only" in result.stderr  # the user still sees the error itself
        found = client.list_tasks(project=project)
        assert found["total"] == 1, found
        task = client.get_task(found["items"][0]["id"])
        assert task["status"] == "failed"
        assert "AttributeError" in task["status_reason"]
        assert "read-only" in task["status_reason"]
    finally:
        client.close()
        server.stop()
