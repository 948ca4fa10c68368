"""A task's code runs with a key of its own, never the agent's: a real agent (with a worker
account's key) runs a real script from a git repository on a server asking for login. The
script's key reads what the member who enqueued the task may, writes only its own task, and
is dead once the task has ended."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.accounts import AUTH_ON, make_accounts
from tests.agents import agent_daemon
from tests.gitrepo import new_repo
from tests.scripts import script_env
from tests.services import ServerProcess
from tests.waiting import wait_for
from tunelab.agent.environment import EnvironmentBuilder
from tunelab.domain.access import UserKind
from tunelab.store.engine import sqlite_url

SCRIPT = """
import hashlib, os
import httpx
from tunelab import Task

task = Task.init(project_name="team-a", task_name="keyed")
key = os.environ["TUNELAB_API_TOKEN"]
with open(KEY_FILE, "w") as out:
    out.write(key)
api = httpx.Client(base_url=os.environ["TUNELAB_API_URL"] + "/api/v1",
                   headers={"Authorization": "Bearer " + key})
answers = {
    "read_b": api.get(f"/tasks/{TASK_B}"),
    "write_a": api.patch(f"/tasks/{OTHER_A}", json={"comment": "PLANTED"}),
    "model_b": api.post("/models", json={"name": "PLANTED", "task_id": task.id,
                                         "project": "team-b"}),
    "read_a": api.get(f"/tasks/{OTHER_A}"),
}
logger = task.get_logger()
for name, answer in answers.items():
    logger.report_scalar("status", name, float(answer.status_code), 0)
same = hashlib.sha256(key.encode()).hexdigest() == WORKER_KEY_SHA
logger.report_scalar("key", "is_worker_key", float(same), 0)
print("the script ran")
"""


@dataclass
class LoginServer:
    server: ServerProcess
    keys: dict[str, str]

    def client(self, name: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[name]}"}
        return httpx.Client(base_url=f"{self.server.url}/api/v1", headers=headers, timeout=30)


@pytest.fixture
def login_server(tmp_path: Path) -> Iterator[LoginServer]:
    data_dir = tmp_path / "server"
    data_dir.mkdir()
    kinds = {
        "root": UserKind.ADMIN,
        "owner-a": UserKind.MEMBER,
        "owner-b": UserKind.MEMBER,
        "agent": UserKind.WORKER,
    }
    made = make_accounts(sqlite_url(data_dir), kinds)
    server = ServerProcess(data_dir, env=AUTH_ON)
    server.start()
    try:
        yield LoginServer(server, {name: account.key for name, account in made.items()})
    finally:
        server.stop()


def _ok(answer: httpx.Response, status: int = 200) -> dict:  # type: ignore[type-arg]
    assert answer.status_code == status, answer.text
    return answer.json()  # type: ignore[no-any-return]


@dataclass
class KeyedTask:
    draft: str
    other_a: str  # a task owner-a may change, the script's key may not
    key_file: Path  # where the script leaves its key


def _keyed_task(a: httpx.Client, b: httpx.Client, tmp_path: Path, agent_key: str) -> KeyedTask:
    """Team A's draft whose script tries its key; team B's task it must not read."""
    _ok(a.post("/projects", json={"name": "team-a"}), 201)
    _ok(b.post("/projects", json={"name": "team-b"}), 201)
    task_b = _ok(b.post("/tasks", json={"name": "B-ONLY", "project": "team-b"}), 201)["id"]
    other_a = _ok(a.post("/tasks", json={"name": "other", "project": "team-a"}), 201)["id"]
    key_file = tmp_path / "script-key.txt"
    source = (
        f"KEY_FILE = {str(key_file)!r}\nTASK_B = {task_b!r}\nOTHER_A = {other_a!r}\n"
        f"WORKER_KEY_SHA = {hashlib.sha256(agent_key.encode()).hexdigest()!r}\n"
    )
    repo = new_repo(tmp_path / "repo", {"train.py": source + SCRIPT})
    execution = {
        "repository": str(repo),
        "branch": "main",
        "entry_point": "train.py",
        "working_dir": ".",
    }
    body = {"name": "keyed", "project": "team-a", "execution": execution}
    draft = _ok(a.post("/tasks", json=body), 201)["id"]
    EnvironmentBuilder(tmp_path / "agent-work" / "envs").build("", lambda line: None)
    return KeyedTask(draft, other_a, key_file)


def _check_the_run(
    server: LoginServer, a: httpx.Client, b: httpx.Client, run: KeyedTask, agent_key: str
) -> None:
    done = _ok(a.get(f"/tasks/{run.draft}"))
    console = [line["text"] for line in _ok(a.get(f"/tasks/{run.draft}/console"))["lines"]]
    assert done["status"] == "completed", console
    # Its own outputs landed...
    assert "the script ran" in console
    metrics = _ok(a.get(f"/tasks/{run.draft}/metrics"))["metrics"]
    seen = {variant: s["last"] for variant, s in metrics["status"].items()}
    # ...what its enqueuer may read it read; all else was refused.
    assert seen == {"read_b": 403.0, "write_a": 403.0, "model_b": 403.0, "read_a": 200.0}
    assert metrics["key"]["is_worker_key"]["last"] == 0.0
    assert _ok(a.get(f"/tasks/{run.other_a}"))["comment"] != "PLANTED"
    planted = _ok(b.get("/models", params={"project": "team-b"}))["items"]
    assert [m["name"] for m in planted] == []
    # The task has ended: its key is dead; the agent's key still works.
    script_key = run.key_file.read_text()
    assert script_key and script_key != agent_key
    with httpx.Client(base_url=f"{server.server.url}/api/v1", timeout=30) as anyone:
        for key, status in ((script_key, 401), (agent_key, 200)):
            answer = anyone.get(f"/tasks/{run.draft}", headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == status, answer.text


def _ended(a: httpx.Client, task_id: str) -> Callable[[], bool]:
    return lambda: _ok(a.get(f"/tasks/{task_id}"))["status"] in {"completed", "failed", "stopped"}


def test_the_script_runs_with_a_key_of_its_own_task(
    login_server: LoginServer, tmp_path: Path
) -> None:
    worker_key = login_server.keys["agent"]
    with login_server.client("owner-a") as a, login_server.client("owner-b") as b:
        run = _keyed_task(a, b, tmp_path, worker_key)
        env = {"TUNELAB_API_TOKEN": worker_key}
        options = ("--poll-timeout", "2")
        with agent_daemon(login_server.server.url, tmp_path, "keys", options=options, env=env):
            _ok(a.post(f"/tasks/{run.draft}/enqueue", json={"queue": "keys"}))
            wait_for(_ended(a, run.draft), 120, "the agent to run the task")
        _check_the_run(login_server, a, b, run, worker_key)


def test_agent_execute_gets_a_task_key_too(login_server: LoginServer, tmp_path: Path) -> None:
    """``tunelab agent execute --id`` (what launchers run), here with an admin's key: the
    script gets a key of its task's, reading what the member who enqueued it may."""
    admin_key = login_server.keys["root"]
    with login_server.client("owner-a") as a, login_server.client("owner-b") as b:
        run = _keyed_task(a, b, tmp_path, admin_key)
        _ok(a.post(f"/tasks/{run.draft}/enqueue", json={"queue": "launched"}))
        env = script_env(login_server.server.url, tmp_path, TUNELAB_API_TOKEN=admin_key)
        command = [
            sys.executable, "-m", "tunelab.cli.main", "agent", "execute", "--id", run.draft,
            "--work-dir", str(tmp_path / "agent-work"), "--worker-id", "launched-1",
        ]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        _check_the_run(login_server, a, b, run, admin_key)
