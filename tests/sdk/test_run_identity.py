"""Who and where: ``Task.init`` prints the task and the page that shows it, every task
records the OS user who ran it (and, with login on, the account of its key), and a task run
again in remote mode (as an agent does) records the machine that ran it, keeping the one it
was first recorded on."""

from __future__ import annotations

import json
import platform
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.accounts import AUTH_ON, make_accounts
from tests.scripts import run_script, script_env, unique, write_script
from tests.services import ServerProcess
from tunelab.sdk.transport import ApiClient
from tunelab.store.engine import sqlite_url

SCRIPT = """
import json
from tunelab import Task

task = Task.init(project_name=PROJECT, task_name="baseline")
print("ID " + json.dumps(task.id))
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


@pytest.fixture(scope="module")
def login_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server asking for login, and the API key of its member ``ada-account``."""
    data_dir = tmp_path_factory.mktemp("login-server")
    accounts = make_accounts(sqlite_url(data_dir), {"root": "admin", "ada-account": "member"})
    server = ServerProcess(data_dir, env=AUTH_ON)
    server.start()
    try:
        yield server.url, accounts["ada-account"].key
    finally:
        server.stop()


def _run(api_url: str, tmp_path: Path, project: str, **env: str) -> tuple[str, str]:
    script = write_script(tmp_path / "code", f"PROJECT = {project!r}\n{SCRIPT}")
    result = run_script(script, script_env(api_url, tmp_path, **env))
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("ID "))
    return json.loads(line.removeprefix("ID ")), result.stdout


def test_init_prints_the_task_and_its_page(api_url: str, tmp_path: Path) -> None:
    project = f"{unique('vision')}/resnet"
    task_id, stdout = _run(api_url, tmp_path, project)
    expected = f'Tunelab: task {task_id} "baseline" in {project}: {api_url}/experiments/{task_id}'
    assert expected in stdout.splitlines()


def test_the_page_is_on_the_configured_web_url(api_url: str, tmp_path: Path) -> None:
    project = unique("web-url")
    task_id, stdout = _run(
        api_url, tmp_path, project, TUNELAB_WEB_URL="https://tunelab.example.org/"
    )
    assert f": https://tunelab.example.org/experiments/{task_id}" in stdout


def test_the_os_user_is_recorded(api_url: str, client: ApiClient, tmp_path: Path) -> None:
    name = unique("ada")
    task_id, _ = _run(api_url, tmp_path, unique("who"), LOGNAME=name, USER=name)
    task = client.get_task(task_id)
    assert task["runtime"]["os_user"] == name
    assert task["user"] == name  # no login: the OS user is who ran it


def test_with_login_the_keys_account_is_recorded(
    login_server: tuple[str, str], tmp_path: Path
) -> None:
    url, key = login_server
    task_id, _ = _run(url, tmp_path, unique("who"), TUNELAB_API_TOKEN=key, LOGNAME="ada")
    with ApiClient(url, token=key) as client:
        task = client.get_task(task_id)
        assert task["user"] == "ada-account"
        assert task["runtime"]["os_user"] == "ada"
        # The body cannot name another account.
        other = client.create_task({"name": "x", "project": task["project"]["name"], "user": "eve"})
        assert other["user"] == "ada-account"


def test_a_remote_run_records_the_machine_that_ran_it(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    first = {"host": "laptop-of-ada", "os": "Darwin-23", "python": "3.11.2", "os_user": "ada"}
    draft = client.create_task(
        {"name": "baseline", "project": unique("remote-runtime"), "user": "ada", "runtime": first}
    )
    agent_user = unique("agent")
    _run(
        api_url,
        tmp_path,
        "ignored",
        TUNELAB_TASK_ID=draft["id"],
        LOGNAME=agent_user,
        USER=agent_user,
    )
    runtime = client.get_task(draft["id"])["runtime"]
    assert runtime["host"] == socket.gethostname()
    assert runtime["python"] == platform.python_version()
    assert runtime["os"] == platform.platform()
    assert runtime["os_user"] == agent_user
    assert {k: runtime["original"][k] for k in first} == first
    assert client.get_task(draft["id"])["user"] == "ada"  # whose task it is stays
