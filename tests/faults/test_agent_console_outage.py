"""The server SIGKILLed while a real agent runs a task that prints a line every 0.1 s, and
restarted on the same port and data dir seconds later: every line reaches the task's console
exactly once, in order (the agent spools the console on disk and resends it with the same
batch ids), and the task is marked completed only once its console is all there. An outage
longer than the agent's wait for the console: the status says how many lines are kept where,
and they are sent before the next task; an agent sends what an earlier one kept."""

from __future__ import annotations

import subprocess
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.agent import start_agent
from tests.gitrepo import git, isolate_git, new_repo
from tests.scripts import unique
from tests.services import ServerProcess
from tests.waiting import final_status, wait_for
from tunelab.agent.console_spool import spool_path
from tunelab.agent.environment import EnvironmentBuilder
from tunelab.agent.launcher import Launcher
from tunelab.agent.repository import RepositoryCache
from tunelab.agent.runner import TaskRunner
from tunelab.sdk import session_log
from tunelab.sdk.session_log import Op
from tunelab.sdk.transport import ApiClient

LINES = 60  # one every 0.1 s: the script runs about 6 s
# Longer than the agent's retries of one batch lasted (about 4 s) before the console was
# spooled, and the restart adds its own seconds.
OUTAGE = 4.0

COUNT = f"""
    import time
    for i in range({LINES}):
        print(f"line {{i}}", flush=True)
        time.sleep(0.1)
"""


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Agent work dirs' environment cache, the one for no requirements built once."""
    cache = tmp_path_factory.mktemp("agent-envs")
    EnvironmentBuilder(cache).build("", lambda line: None)
    return cache


def _console(client: ApiClient, task_id: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = client.get_console(task_id, limit=10_000)["lines"]
    return lines


def _printed(client: ApiClient, task_id: str) -> list[str]:
    return [line["text"] for line in _console(client, task_id) if line["stream"] == "stdout"]


def _execution(repo: Path, entry_point: str) -> dict[str, str]:
    return {
        "repository": str(repo),
        "branch": "main",
        "commit": git(repo, "rev-parse", "HEAD"),
        "entry_point": entry_point,
        "working_dir": ".",
    }


@pytest.mark.slow
def test_console_lines_survive_a_server_outage(
    server: ServerProcess, tmp_path: Path, agents: list[subprocess.Popen[bytes]], envs: Path
) -> None:
    repo = new_repo(tmp_path / "code", {"count.py": textwrap.dedent(COUNT)})
    queue = unique("q")
    with ApiClient(server.url, timeout=10) as client:
        execution = _execution(repo, "count.py")
        body = {"name": unique("count"), "project": "faults", "execution": execution}
        task_id = str(client.create_task(body)["id"])
        client.enqueue_task(task_id, queue)
        agent_home = tmp_path / "agent"
        (tmp_path / "work").mkdir()
        (tmp_path / "work" / "envs").symlink_to(envs, target_is_directory=True)
        # What an earlier agent on this work dir kept and could not send (it was killed).
        earlier = str(client.create_task({"name": unique("earlier"), "project": "faults"})["id"])
        kept = Op("console", earlier, {"lines": [{"stream": "stdout", "text": "kept"}]}, "k1")
        session_log.append_ops(spool_path(tmp_path / "work" / "console-spool", earlier), [kept])
        agents.append(start_agent(server.url, agent_home, tmp_path / "work", queue))

        def a_few_lines() -> list[str]:
            printed = _printed(client, task_id)
            return printed if "line 3" in printed else []

        seen = wait_for(a_few_lines, 120, "a few lines")
        server.stop(kill=True)
        assert len(seen) < LINES, "the kill came after the last line: nothing was tested"
        time.sleep(OUTAGE)  # the script prints on; the agent cannot send
        server.start(timeout=120)

        task = final_status(client, task_id, timeout=60)
        # Read once, right after the status: the status comes after the console, never before.
        console = _console(client, task_id)
        log = (agent_home / "agent.log").read_text()
        printed = [line["text"] for line in console if line["stream"] == "stdout"]
        assert printed == [f"line {i}" for i in range(LINES)], log
        assert task["status"] == "completed", (task["status_reason"], log)
        assert console[-1]["text"] == "tunelab agent: task completed"
        assert [line["seq"] for line in console] == sorted(line["seq"] for line in console)
        assert "keeping the console of task" in log and "answers again" in log, log
        assert not list((tmp_path / "work" / "console-spool").glob("*.jsonl"))  # all sent
        assert _printed(client, earlier) == ["kept"]


@pytest.mark.slow
def test_a_console_the_outage_outlasts_is_noted_and_sent_before_the_next_task(
    server: ServerProcess, tmp_path: Path, envs: Path
) -> None:
    go = tmp_path / "go"
    scripts = {
        "wait.py": f"""
            import pathlib, time
            print("before", flush=True)
            while not pathlib.Path({str(go)!r}).exists():
                time.sleep(0.05)
            print("after", flush=True)
        """,
        "next.py": "print('next task')\n",
    }
    repo = new_repo(tmp_path / "code", {k: textwrap.dedent(v) for k, v in scripts.items()})
    root = tmp_path / "agent"
    with ApiClient(server.url, timeout=10) as client:
        first, second = (
            str(
                client.create_task(
                    {"name": unique("t"), "project": "faults", "status": "running",
                     "execution": _execution(repo, entry_point)}
                )["id"]
            )
            for entry_point in ("wait.py", "next.py")
        )  # fmt: skip
        runner = TaskRunner(
            client, RepositoryCache(root / "repos"), EnvironmentBuilder(envs),
            Launcher, root / "tasks", console_wait=0.5,
        )  # fmt: skip
        others = set(threading.enumerate())
        ended: dict[str, str] = {}
        run = threading.Thread(
            target=lambda: ended.update(status=runner.run(client.get_task(first)))
        )
        run.start()
        try:
            wait_for(lambda: "before" in _printed(client, first), 120, "the first line")
            sink = next(
                t for t in threading.enumerate() if t.name == "console-sink" and t not in others
            )
            server.stop(kill=True)
            go.touch()
            wait_for(lambda: not sink.is_alive(), 30, "the console's wait to run out")
            server.start(timeout=120)  # the outcome is recorded once the server answers
        finally:
            go.touch()
            run.join(60)

        assert ended == {"status": "completed"}
        reason = client.get_task(first)["status_reason"]
        missing = [
            "after",
            "tunelab agent: the process exited with code 0",
            "tunelab agent: task completed",
        ]
        spool = root / "console-spool" / f"{first}.jsonl"
        assert reason == f"{len(missing)} console lines kept in {spool} not sent yet"
        assert "after" not in _printed(client, first)

        # The next task on this work dir sends them first, once.
        assert runner.run(client.get_task(second)) == "completed"
        texts = [line["text"] for line in _console(client, first)]
        assert texts[-len(missing) :] == missing and texts.count("after") == 1
        assert "next task" in _printed(client, second)
        assert not spool.exists()
