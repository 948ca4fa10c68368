"""An agent restarted under the same worker id while its task runs (killed, then started
again by a supervisor) fails that task at once: nothing runs it any more, and waiting for the
worker timeout would leave it ``running`` for nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents import agent_daemon
from tests.gitrepo import new_repo
from tests.scripts import unique
from tests.waiting import final_status, wait_for
from tunelab.sdk.transport import ApiClient

LONG_TASK = """
import os, time
with open(PID_FILE, "w") as out:
    out.write(str(os.getpid()))
print("running", flush=True)
time.sleep(120)
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def test_a_restarted_worker_fails_the_task_it_was_running(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    queue, worker_id = unique("restart"), unique("restarted-worker")
    pid_file = tmp_path / "task.pid"
    script = f"PID_FILE = {str(pid_file)!r}\n{LONG_TASK}"
    repo = new_repo(tmp_path / "repo", {"long.py": script})
    execution = {"repository": str(repo), "branch": "main", "entry_point": "long.py",
                 "working_dir": "."}  # fmt: skip
    task = client.create_task(
        {"name": "long", "project": unique("restart"), "status": "draft", "execution": execution}
    )
    options = ("--worker-id", worker_id, "--poll-timeout", "1")
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    try:
        with agent_daemon(api_url, tmp_path / "first", queue, options=options) as first:
            client.enqueue_task(task["id"], queue=queue)
            wait_for(pid_file.exists, 120, "the task to start")
            assert client.get_task(task["id"])["status"] == "running"
            first.kill()  # no drain, no unregister: the task is left behind
            first.wait()
        killed = time.monotonic()
        with agent_daemon(api_url, tmp_path / "second", queue, options=options):
            ended = final_status(client, task["id"], timeout=30)
            took = time.monotonic() - killed
        assert (ended["status"], ended["status_reason"]) == ("failed", "worker restarted")
        assert took < 20, f"failed only after {took:.0f} s"
    finally:
        if pid_file.exists():  # the orphaned script: nobody else will end it
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
