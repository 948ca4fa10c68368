"""An agent SIGKILLed mid-task, its task's process group with it (the machine died): the
task ends ``failed`` (worker lost), every point the task had sent is stored exactly once,
and a new agent serves the queue and runs the next task."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.faults.agent import start_agent
from tests.faults.readback import stored_iterations
from tests.gitrepo import git, isolate_git, new_repo
from tests.scripts import unique
from tests.services import ServerProcess
from tests.waiting import wait_for
from tunelab.sdk.transport import ApiClient

WORKER_TIMEOUT = 3  # seconds of silence before the server declares an agent lost
SENT_FIRST = 20_000  # points the first task sends before it says so

SCRIPTS = {
    # Sends SENT_FIRST points, says so, then logs on (and sends) until it is killed.
    "forever.py": f"""
        import os, time
        from tunelab import Task
        task = Task.init(project_name="faults", task_name="forever")
        print("pid", os.getpid(), flush=True)
        logger = task.get_logger()
        for i in range({SENT_FIRST}):
            logger.report_scalar("loss", "train", i * 0.5, i)
        assert task.flush()
        print("sent", flush=True)
        i = {SENT_FIRST}
        while True:
            logger.report_scalar("loss", "train", i * 0.5, i)
            i += 1
            if i % 1000 == 0:
                time.sleep(0.01)
    """,
    "finite.py": """
        from tunelab import Task
        task = Task.init(project_name="faults", task_name="finite")
        logger = task.get_logger()
        for i in range(5000):
            logger.report_scalar("loss", "train", i * 0.5, i)
        print("done", flush=True)
    """,
}


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"TUNELAB_WORKER_TIMEOUT": str(WORKER_TIMEOUT)}


def _new_task(client: ApiClient, repo: Path, entry_point: str) -> str:
    execution = {
        "repository": str(repo),
        "branch": "main",
        "commit": git(repo, "rev-parse", "HEAD"),
        "entry_point": entry_point,
        "working_dir": ".",
    }
    body = {"name": unique("t"), "project": "faults", "execution": execution}
    return str(client.create_task(body)["id"])


def _console(client: ApiClient, task_id: str) -> list[str]:
    return [line["text"] for line in client.get_console(task_id, limit=10_000)["lines"]]


def _ended(client: ApiClient, task_id: str, timeout: float) -> dict[str, Any]:
    task: dict[str, Any] = wait_for(
        lambda: (
            (t := client.get_task(task_id))["status"] in {"completed", "failed", "stopped"} and t
        ),
        timeout,
        f"task {task_id} to end",
    )
    return task


@pytest.mark.slow
def test_agent_killed_mid_task(
    server: ServerProcess, tmp_path: Path, agents: list[subprocess.Popen[bytes]]
) -> None:
    repo = new_repo(tmp_path / "code", {k: textwrap.dedent(v) for k, v in SCRIPTS.items()})
    queue = unique("q")
    script_group = None
    with ApiClient(server.url, timeout=10) as client:
        killed = _new_task(client, repo, "forever.py")
        later = _new_task(client, repo, "finite.py")
        client.enqueue_task(killed, queue)
        client.enqueue_task(later, queue)  # waits: the agent runs one task at a time
        agents.append(start_agent(server.url, tmp_path / "agent1", tmp_path / "work", queue))
        try:
            wait_for(lambda: "sent" in _console(client, killed), 120, "the first points")
            pid = int(next(t for t in _console(client, killed) if t.startswith("pid "))[4:])
            script_group = os.getpgid(pid)
            assert client.get_task(later)["status"] == "queued"

            agents[0].kill()  # no goodbye from the agent, no last sends from the script
            os.killpg(script_group, signal.SIGKILL)
            agents[0].wait()
        finally:
            if script_group is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(script_group, signal.SIGKILL)

        task = _ended(client, killed, WORKER_TIMEOUT + 15)
        assert (task["status"], task["status_reason"]) == ("failed", "worker lost")
        series = stored_iterations(client, killed)
        assert list(series) == [("loss", "train")]
        sent = series["loss", "train"]
        assert len(sent) >= SENT_FIRST
        assert sent == list(range(len(sent)))  # each point once, none missing before the last
        assert client.get_task(later)["status"] == "queued"

        agents.append(start_agent(server.url, tmp_path / "agent2", tmp_path / "work", queue))
        task = _ended(client, later, 120)
        assert task["status"] == "completed", (tmp_path / "agent2" / "agent.log").read_text()
        assert task["worker"] != client.get_task(killed)["worker"]
        assert stored_iterations(client, later) == {("loss", "train"): list(range(5000))}
        assert "done" in _console(client, later)
        assert stored_iterations(client, killed) == series  # nothing arrived late or twice
