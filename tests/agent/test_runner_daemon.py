"""The agent end to end against the real server: real git repositories, real environments,
real processes. TaskRunner runs in this process; the daemon runs as ``tunelab agent daemon``
subprocesses taking tasks from real queues."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gitrepo import git, new_repo, write
from tests.scripts import unique
from tests.services import ServerProcess
from tests.waiting import final_status, wait_for
from tunelab.agent.environment import EnvironmentBuilder
from tunelab.agent.launcher import Launcher
from tunelab.agent.repository import RepositoryCache
from tunelab.agent.runner import TaskRunner
from tunelab.sdk.capture import capture_source
from tunelab.sdk.transport import ApiClient

SCRIPTS = {
    "train.py": """
        import sys
        import helper  # an untracked file: it comes with the diff
        print("lr", helper.LR)
        print("to stderr", file=sys.stderr)
    """,
    "fail.py": """
        print("about to fail")
        raise SystemExit(3)
    """,
    "wait.py": """
        import os, signal, sys, time
        def checkpoint(signum, frame):
            open("checkpoint", "w").write("saved\\n")
            print("checkpoint written", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, checkpoint)
        print("pid", os.getpid(), flush=True)
        print("ready", flush=True)
        time.sleep(600)
    """,
    "slow.py": """
        import time
        time.sleep(2)
        print("done")
    """,
    "ends_itself.py": """
        # What the SDK does at a run's end: record the final status itself.
        import os, sys
        from tunelab.sdk.transport import ApiClient
        client = ApiClient(os.environ["TUNELAB_API_URL"])
        client.update_task(os.environ["TUNELAB_TASK_ID"], status="completed")
        sys.exit(1)
    """,
}


@pytest.fixture(scope="module")
def agent_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One agent work dir for the module, its environment for no requirements built once."""
    root = tmp_path_factory.mktemp("agent")
    EnvironmentBuilder(root / "envs").build("", lambda line: None)
    return root


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


@pytest.fixture
def execution(tmp_path: Path) -> dict[str, str]:
    """A repository with the scripts committed, then changed: train.py's LR edited and its
    helper module untracked; recorded as the SDK records it."""
    repo = new_repo(tmp_path / "project", {k: textwrap.dedent(v) for k, v in SCRIPTS.items()})
    write(repo / "helper.py", "LR = 0.5\n")
    source = capture_source(repo / "train.py", repo)
    assert "helper.py" in source.diff
    return {
        "repository": source.repository,
        "branch": source.branch,
        "commit": source.commit,
        "entry_point": source.entry_point,
        "working_dir": source.working_dir,
        "diff": source.diff,
        "requirements": "",
    }


def new_task(
    client: ApiClient,
    execution: dict[str, str],
    status: str = "draft",
    project: str = "agent-tests",
    **ex: str,
) -> str:
    body = {
        "name": unique("agent"),
        "project": project,
        "status": status,
        "execution": {**execution, **ex},
    }
    return str(client.create_task(body)["id"])


def console(client: ApiClient, task_id: str) -> list[tuple[str, str]]:
    lines = client.get_console(task_id, limit=10_000)["lines"]
    return [(line["stream"], line["text"]) for line in lines]


def runner(client: ApiClient, root: Path, **options: Any) -> TaskRunner:
    return TaskRunner(
        client,
        RepositoryCache(root / "repos"),
        EnvironmentBuilder(root / "envs"),
        Launcher,
        root / "tasks",
        **options,
    )


# ----- TaskRunner -----------------------------------------------------------------------


def test_the_runner_rebuilds_runs_and_completes_a_task(
    client: ApiClient, agent_root: Path, execution: dict[str, str]
) -> None:
    task_id = new_task(client, execution, status="running")
    status = runner(client, agent_root).run(client.get_task(task_id))

    assert status == "completed"
    task = client.get_task(task_id)
    assert task["status"] == "completed" and task["status_reason"] == ""
    lines = console(client, task_id)
    assert ("stdout", "lr 0.5") in lines  # the uncommitted edit and the untracked file
    assert ("stderr", "to stderr") in lines
    logs = [text for stream, text in lines if stream == "log"]
    assert any("checking out" in text for text in logs)
    assert any("reusing the cached environment" in text for text in logs)
    assert not (agent_root / "tasks" / task_id).exists()  # the work dir is cleaned up


def test_an_agent_says_it_does_not_honour_the_resources_a_task_asks(
    client: ApiClient, agent_root: Path, execution: dict[str, str]
) -> None:
    body = {"name": "sized", "project": "agent-tests", "status": "running",
            "execution": {**execution, "entry_point": "slow.py"},
            "resources": {"gpus": 1, "memory": "16G"}}  # fmt: skip
    task_id = str(client.create_task(body)["id"])
    assert runner(client, agent_root).run(client.get_task(task_id)) == "completed"
    logs = [text for stream, text in console(client, task_id) if stream == "log"]
    assert (
        "tunelab agent: this agent runs the task on its own machine and does not honour its "
        "resources (1 GPU, 16G memory); a launcher (tunelab launcher) does"
    ) in logs


def test_a_failing_script_fails_the_task_with_its_exit_code(
    client: ApiClient, agent_root: Path, execution: dict[str, str]
) -> None:
    task_id = new_task(client, execution, status="running", entry_point="fail.py")
    assert runner(client, agent_root).run(client.get_task(task_id)) == "failed"
    task = client.get_task(task_id)
    assert (task["status"], task["status_reason"]) == ("failed", "exit code 3")
    assert ("stdout", "about to fail") in console(client, task_id)


def test_a_failing_build_step_is_named_and_explained(
    client: ApiClient, agent_root: Path, execution: dict[str, str]
) -> None:
    broken = (  # a change to a line train.py does not hold
        "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n"
        "@@ -1,1 +1,1 @@\n-import os\n+import json\n"
    )
    task_id = new_task(client, execution, status="running", diff=broken)
    assert runner(client, agent_root).run(client.get_task(task_id)) == "failed"
    task = client.get_task(task_id)
    assert task["status_reason"].startswith("checkout failed: the task's uncommitted changes")
    logs = [text for stream, text in console(client, task_id) if stream == "log"]
    assert any(execution["commit"] in text and "do not apply" in text for text in logs)

    no_repo = new_task(client, execution, status="running", repository="")
    assert runner(client, agent_root).run(client.get_task(no_repo)) == "failed"
    assert client.get_task(no_repo)["status_reason"] == (
        "checkout failed: the task records no repository, so its code cannot be rebuilt"
    )


def test_an_end_the_sdk_recorded_is_kept(
    client: ApiClient, agent_root: Path, execution: dict[str, str]
) -> None:
    task_id = new_task(client, execution, status="running", entry_point="ends_itself.py")
    # Exit code 1, but the script (as its SDK would) had recorded "completed" already.
    assert runner(client, agent_root).run(client.get_task(task_id)) == "completed"
    assert client.get_task(task_id)["status"] == "completed"


def test_a_stop_request_marks_the_task_stopped_and_gives_the_grace(
    client: ApiClient, agent_root: Path, execution: dict[str, str]
) -> None:
    task_id = new_task(client, execution, status="running", entry_point="wait.py")
    task_runner = runner(client, agent_root, stop_grace=10, keep_work_dirs=True)
    result: list[str] = []
    thread = threading.Thread(
        target=lambda: result.append(task_runner.run(client.get_task(task_id)))
    )
    thread.start()
    wait_for(lambda: ("stdout", "ready") in console(client, task_id), what="the script to start")

    task_runner.request_stop(task_id, "stopped from the test")
    thread.join(30)

    assert result == ["stopped"]
    task = client.get_task(task_id)
    assert (task["status"], task["status_reason"]) == ("stopped", "stopped from the test")
    assert ("stdout", "checkpoint written") in console(client, task_id)
    assert (agent_root / "tasks" / task_id / "code" / "checkpoint").read_text() == "saved\n"


class DockerStandIn:
    """No Docker engine runs where these tests run: this stands in for the ``docker run``
    process and keeps the command the runner would have run."""

    commands: list[list[str]] = []

    def __init__(self, command: Any, cwd: Path, env: Any, sink: Any) -> None:
        self.commands.append(list(command))
        self.sink = sink

    def start(self) -> None:
        self.sink("stdout", "in the container")

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def stop(self, grace: float) -> int:
        return 0


def test_docker_mode_runs_the_task_in_its_image_else_the_agents(
    client: ApiClient, agent_root: Path, execution: dict[str, str]
) -> None:
    task_runner = runner(client, agent_root, docker_image="python:3.11-slim")
    task_runner.launcher_factory = DockerStandIn
    plain = new_task(client, execution, status="running")
    own = new_task(client, execution, status="running", docker_image="pytorch/pytorch:2.4.0")

    assert task_runner.run(client.get_task(plain)) == "completed"
    assert task_runner.run(client.get_task(own)) == "completed"

    first, second = DockerStandIn.commands[-2:]
    assert first[:3] == ["docker", "run", "--rm"] and "python:3.11-slim" in first
    assert "pytorch/pytorch:2.4.0" in second and "python:3.11-slim" not in second
    assert f"TUNELAB_TASK_ID={plain}" in first and f"TUNELAB_TASK_ID={own}" in second
    assert first[-1].endswith("exec python train.py")
    assert ("stdout", "in the container") in console(client, plain)


# ----- the daemon -----------------------------------------------------------------------


class Agent:
    """``tunelab agent daemon`` as a subprocess."""

    def __init__(
        self, api_url: str, home: Path, work_dir: Path, *queues: str, heartbeat: float = 5
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNELAB_")}
        env.update({"TUNELAB_API_URL": api_url, "HOME": str(home)})
        home.mkdir(parents=True, exist_ok=True)
        self.log_path = home / f"agent-{time.monotonic_ns()}.log"
        command = [sys.executable, "-m", "tunelab.cli.main", "agent", "daemon"]
        for queue in queues:
            command += ["--queue", queue]
        command += ["--work-dir", str(work_dir), "--poll-timeout", "2", "--stop-grace", "5"]
        command += ["--heartbeat-interval", str(heartbeat)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def agents(api_url: str, tmp_path: Path) -> Iterator[list[Agent]]:
    started: list[Agent] = []
    yield started
    for agent in started:
        agent.close()


def test_the_daemon_takes_and_runs_queued_tasks(
    client: ApiClient, api_url: str, tmp_path: Path, execution: dict[str, str], agents: list[Agent]
) -> None:
    queue = unique("q")
    ok, failing = new_task(client, execution), new_task(client, execution, entry_point="fail.py")
    client.enqueue_task(ok, queue)
    client.enqueue_task(failing, queue)
    agents.append(Agent(api_url, tmp_path / "home", tmp_path / "fresh-agent", queue))

    assert final_status(client, ok)["status"] == "completed", agents[0].log
    lines = console(client, ok)
    logs = [text for stream, text in lines if stream == "log"]
    assert any("building a new environment with uv" in text for text in logs)
    assert any(text.startswith("Installed") for text in logs)  # uv's own progress
    assert ("stdout", "lr 0.5") in lines
    task = final_status(client, failing)
    assert (task["status"], task["status_reason"]) == ("failed", "exit code 3")
    assert task["worker"] is not None

    agents[0].terminate()
    assert agents[0].wait() == 0
    assert all(w["id"] != task["worker"] for w in client.list_workers()["items"])


def test_queues_are_served_in_the_order_given(
    client: ApiClient, api_url: str, tmp_path: Path, execution: dict[str, str], agents: list[Agent]
) -> None:
    high, low = unique("high"), unique("low")
    later_but_urgent, early = new_task(client, execution), new_task(client, execution)
    client.enqueue_task(early, low)
    client.enqueue_task(later_but_urgent, high)
    agents.append(Agent(api_url, tmp_path / "home", tmp_path / "agent", high, low))

    first, second = final_status(client, later_but_urgent), final_status(client, early)
    assert first["started"] < second["started"]
    worker = next(w for w in client.list_workers()["items"] if w["id"] == first["worker"])
    assert worker["queues"] == [high, low]


def test_execute_runs_one_task_in_the_foreground(
    client: ApiClient, api_url: str, tmp_path: Path, agent_root: Path, execution: dict[str, str]
) -> None:
    task_id = new_task(client, execution)  # a draft, in no queue
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNELAB_")}
    env.update({"TUNELAB_API_URL": api_url, "HOME": str(tmp_path)})
    command = [sys.executable, "-m", "tunelab.cli.main", "agent", "execute", "--id", task_id]
    done = subprocess.run(
        [*command, "--work-dir", str(agent_root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"task {task_id}: completed"
    assert client.get_task(task_id)["status"] == "completed"
    assert ("stdout", "lr 0.5") in console(client, task_id)

    failing = new_task(client, execution, entry_point="fail.py")
    command[-1] = failing
    done = subprocess.run(
        [*command, "--work-dir", str(agent_root)], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 1
    assert client.get_task(failing)["status_reason"] == "exit code 3"


def test_a_stop_from_the_api_reaches_the_running_task(
    client: ApiClient, api_url: str, tmp_path: Path, execution: dict[str, str], agents: list[Agent]
) -> None:
    queue = unique("q")
    agents.append(Agent(api_url, tmp_path / "home", tmp_path / "agent", queue))
    task_id = new_task(client, execution, entry_point="wait.py")
    client.enqueue_task(task_id, queue)
    wait_for(lambda: ("stdout", "ready") in console(client, task_id), what="the script")

    client.stop_task(task_id, reason="enough")
    task = final_status(client, task_id, timeout=30)  # the heartbeat hears it (every 5 s)
    assert (task["status"], task["status_reason"]) == ("stopped", "enough")
    wait_for(lambda: ("stdout", "checkpoint written") in console(client, task_id), 10)


def test_sigterm_drains_and_a_second_sigterm_stops_the_task(
    client: ApiClient, api_url: str, tmp_path: Path, execution: dict[str, str], agents: list[Agent]
) -> None:
    queue = unique("q")
    first = new_task(client, execution, entry_point="slow.py")
    later = new_task(client, execution)
    client.enqueue_task(first, queue)
    agent = Agent(api_url, tmp_path / "home", tmp_path / "agent", queue)
    agents.append(agent)
    wait_for(lambda: client.get_task(first)["status"] == "running", what="the task to start")

    agent.terminate()  # drain: the task finishes, no new one is taken
    client.enqueue_task(later, queue)
    assert agent.wait(30) == 0, agent.log
    assert client.get_task(first)["status"] == "completed"
    assert ("stdout", "done") in console(client, first)
    assert client.get_task(later)["status"] == "queued"

    client.dequeue_task(later)
    second = new_task(client, execution, entry_point="wait.py")
    client.enqueue_task(second, queue)
    agent = Agent(api_url, tmp_path / "home", tmp_path / "agent", queue)
    agents.append(agent)
    wait_for(lambda: ("stdout", "ready") in console(client, second), what="the script")
    agent.terminate()
    wait_for(lambda: "draining" in agent.log, what="the agent to start draining")
    agent.terminate()  # the second time: stop it now
    assert agent.wait(30) == 0, agent.log
    task = client.get_task(second)
    assert (task["status"], task["status_reason"]) == ("stopped", "the agent was shut down")


@pytest.mark.slow
def test_many_agents_run_every_task_exactly_once(
    client: ApiClient, api_url: str, tmp_path: Path, agent_root: Path, agents: list[Agent]
) -> None:
    ledger = tmp_path / "ledger.txt"
    script = f"""
        import os
        with open({str(ledger)!r}, "a") as f:
            f.write(os.environ["TUNELAB_TASK_ID"] + "\\n")
    """
    repo = new_repo(tmp_path / "tiny", {"append.py": textwrap.dedent(script)})
    execution = {
        "repository": str(repo),
        "branch": "main",
        "commit": git(repo, "rev-parse", "HEAD"),
        "entry_point": "append.py",
        "working_dir": ".",
    }
    queue = project = unique("many")
    ids = [new_task(client, execution, project=project) for _ in range(200)]
    for task_id in ids:
        client.enqueue_task(task_id, queue)
    for n in range(8):  # one shared work dir: mirrors and environments are shared, locked
        agents.append(Agent(api_url, tmp_path / f"home{n}", agent_root, queue))

    wait_for(
        lambda: (
            client.list_tasks(project=project, status=["queued", "running"])["total"] == 0
            and len(ledger.read_text().split()) >= 200
        ),
        timeout=240,
        what="all 200 tasks to run",
    )
    for agent in agents:
        agent.terminate()
    for agent in agents:
        assert agent.wait(30) == 0, agent.log

    ran = ledger.read_text().split()
    assert sorted(ran) == sorted(ids)  # each exactly once
    statuses = {client.get_task(task_id)["status"] for task_id in ids}
    assert statuses == {"completed"}


def test_an_agent_killed_mid_task_leaves_it_failed_worker_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, execution: dict[str, str], agents: list[Agent]
) -> None:
    monkeypatch.setenv("TUNELAB_WORKER_TIMEOUT", "3")  # the server process inherits it
    server = ServerProcess(tmp_path / "server-data")
    server.start()
    script_pid = None
    client = ApiClient(server.url)
    try:
        queue = unique("q")
        task_id = new_task(client, execution, entry_point="wait.py")
        client.enqueue_task(task_id, queue)
        agent = Agent(server.url, tmp_path / "home", tmp_path / "agent", queue, heartbeat=0.5)
        agents.append(agent)
        wait_for(lambda: ("stdout", "ready") in console(client, task_id), what="the script")
        script_pid = int(next(t for s, t in console(client, task_id) if t.startswith("pid "))[4:])
        time.sleep(4)  # past the timeout: the heartbeat keeps a live agent's task running
        assert client.get_task(task_id)["status"] == "running"

        agent.proc.kill()
        killed = time.monotonic()
        task = final_status(client, task_id, timeout=15)
        assert (task["status"], task["status_reason"]) == ("failed", "worker lost")
        assert time.monotonic() - killed < 3 + 5
    finally:
        if script_pid is not None:  # SIGKILL gave the agent no chance to stop its script
            with contextlib.suppress(ProcessLookupError):
                os.killpg(script_pid, signal.SIGKILL)
        client.close()
        server.stop()
