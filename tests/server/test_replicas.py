"""Several server replicas on one PostgreSQL database, as a team runs them behind a load
balancer: they may start at the same moment on an empty database, and share the work of
agents attached to either without a task running twice.

The team here is the one ``scripts/team-server-example`` sets up (PostgreSQL, two replicas
started together, a shared file store, one agent), so the README's recipe is known to work."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.agents import agent_daemon
from tests.gitrepo import isolate_git, new_repo
from tests.services import ServerProcess, free_port, postgres_database
from tests.waiting import wait_for
from tunelab.sdk.transport import ApiClient

pytestmark = pytest.mark.postgres

EXAMPLE = Path(__file__).resolve().parents[2] / "scripts" / "team-server-example"
TASKS = 20

ONCE = """
import os
from tunelab import Task

task = Task.init(project_name="replicas", task_name="once")
print("ran", os.environ["TUNELAB_TASK_ID"], flush=True)
task.get_logger().report_scalar("run", "once", 1.0, iteration=0)
"""


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    with postgres_database(postgres_url, "replicas") as url:
        yield url


def start_together(servers: list[ServerProcess]) -> list[BaseException | None]:
    """Start every server at the same moment; what each start raised, or None."""
    errors: list[BaseException | None] = [None] * len(servers)
    ready = threading.Barrier(len(servers))

    def start(index: int) -> None:
        ready.wait()
        try:
            servers[index].start(timeout=60)
        except BaseException as exc:  # reported by the test
            errors[index] = exc

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_replicas_started_together_on_an_empty_database_all_serve(
    tmp_path: Path, empty_database: str
) -> None:
    replicas = [ServerProcess(tmp_path / name, empty_database) for name in ("a", "b")]
    try:
        errors = start_together(replicas)
        assert errors == [None] * len(replicas), [str(e) for e in errors if e]
        for replica in replicas:
            answer = httpx.get(f"{replica.url}/api/v1/projects", timeout=10)
            assert answer.status_code == 200, answer.text
    finally:
        for replica in replicas:
            replica.stop()


@dataclass(frozen=True)
class Team:
    urls: list[str]
    root: Path


@pytest.fixture(scope="module")
def team() -> Iterator[Team]:
    """``scripts/team-server-example`` running on free ports; stopped (SIGTERM) after."""
    # Not under pytest's private temporary folder: PostgreSQL runs as another user when the
    # tests run as root, and must reach its data directory.
    root = Path(tempfile.mkdtemp(prefix="tunelab-team-"))
    root.chmod(0o755)
    ports = [free_port(), free_port()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNELAB_")}
    env.update(
        TUNELAB=str(Path(sys.executable).with_name("tunelab")),
        PG_PORT=str(free_port()),
        REPLICA_PORTS=" ".join(map(str, ports)),
        HOME=str(root),
    )
    log_path = root / "example.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(EXAMPLE), str(root / "team")], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for(
            lambda: "==> ready" in log_path.read_text() or proc.poll() is not None,
            90,
            "the example team server to be ready",
        )
        assert proc.poll() is None, log_path.read_text()
        yield Team([f"http://127.0.0.1:{port}" for port in ports], root / "team")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            said = log_path.read_text()
            shutil.rmtree(root, ignore_errors=True)
    assert "==> stopping" in said, said


@pytest.mark.slow
def test_each_task_runs_once_across_replicas_and_their_agents(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path)
    repo = new_repo(tmp_path / "repo", {"once.py": ONCE})
    execution = {"repository": str(repo), "branch": "main", "entry_point": "once.py",
                 "working_dir": "."}  # fmt: skip
    work_dir = str(team.root / "agent-work")  # the example's agent's: one environment cache
    with ExitStack() as stack:
        clients = [stack.enter_context(ApiClient(url)) for url in team.urls]
        # The example's agent works through the first replica (the second is its fallback):
        # one more agent there, two on the second.
        agents: dict[str, list[subprocess.Popen[str]]] = {url: [] for url in team.urls}
        for index, url in enumerate([team.urls[0], team.urls[1], team.urls[1]]):
            home = tmp_path / f"agent-{index}"
            home.mkdir()
            options = ("--work-dir", work_dir, "--poll-timeout", "1")
            proc = stack.enter_context(agent_daemon(url, home, "default", options=options))
            agents[url].append(proc)
        task_ids = []
        for index in range(TASKS):
            client = clients[index % 2]  # half of them made and enqueued through each replica
            draft = client.create_task(
                {"name": f"once-{index}", "project": "replicas", "status": "draft",
                 "execution": execution}
            )  # fmt: skip
            client.enqueue_task(draft["id"], queue="default")
            task_ids.append(draft["id"])

        def ended() -> list[dict[str, object]]:
            found = clients[1].list_tasks(project="replicas", limit=100)["items"]
            done = [t for t in found if t["status"] in ("completed", "failed", "stopped")]
            return found if len(done) == TASKS else []

        tasks = wait_for(ended, 120, f"the {TASKS} tasks to end", interval=0.5)
        for proc in [p for procs in agents.values() for p in procs]:
            proc.send_signal(signal.SIGTERM)  # all drain at once
        assert Counter(t["status"] for t in tasks) == {"completed": TASKS}
        assert sorted(str(t["id"]) for t in tasks) == sorted(task_ids)
        # Each ran exactly once: one run in its console and one "took task" in the agents' logs.
        for task_id in task_ids:
            lines = [str(x["text"]).strip() for x in clients[0].get_console(task_id)["lines"]]
            assert lines.count(f"ran {task_id}") == 1, lines
            metrics = clients[1].get_metrics(task_id)["metrics"]
            assert metrics["run"]["once"]["last"] == 1.0, metrics
    logs = [team.root / "agent.log", *(tmp_path.glob("agent-*/agent.log"))]
    took = Counter(re.findall(r"took task (\w+)", "".join(p.read_text() for p in logs)))
    assert took == Counter(task_ids)
    # The agents of both replicas did part of the work.
    host = socket.gethostname()
    workers = Counter(str(t["worker"]) for t in tasks)
    extra = {url: sum(workers[f"{host}:{p.pid}"] for p in procs) for url, procs in agents.items()}
    assert all(count > 0 for count in extra.values()), (workers, extra)
