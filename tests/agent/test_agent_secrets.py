"""The agent keeps its token to itself: the script it runs gets the task's own key instead,
and neither shows in the task's record or console, in the agent's log, or in the docker
command line it builds. The agent's secret variables reach the script, masked likewise."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets as random_secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.agents import agent_daemon
from tests.gitrepo import new_repo
from tests.scripts import unique
from tests.waiting import wait_for
from tunelab.agent.docker import docker_command
from tunelab.agent.environment import EnvironmentBuilder
from tunelab.agent.launcher import Sink
from tunelab.agent.repository import RepositoryCache
from tunelab.agent.runner import TaskRunner
from tunelab.sdk.secrets import MASK
from tunelab.sdk.transport import ApiClient

SCRIPT = """
import hashlib, os, sys
from tunelab import Task

def digest(value):
    return hashlib.sha256(value.encode()).hexdigest()

task = Task.init(project_name=PROJECT, task_name="agent-secrets")
token = os.environ["TUNELAB_API_TOKEN"]
print("token:", token)
print("hf " + os.environ["HF_TOKEN"], file=sys.stderr)
logger = task.get_logger()
logger.report_scalar("seen", "token", float(digest(token) == TOKEN_SHA), 0)
logger.report_scalar("seen", "hf", float(digest(os.environ["HF_TOKEN"]) == HF_SHA), 0)
"""


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


@contextlib.contextmanager
def _agent(api_url: str, tmp_path: Path, queue: str, **extra: str) -> Iterator[Path]:
    """A real ``tunelab agent daemon`` with ``extra`` in its environment; yields its log."""
    EnvironmentBuilder(tmp_path / "agent-work" / "envs").build("", lambda line: None)  # built once
    options = ("--poll-timeout", "2")
    with agent_daemon(api_url, tmp_path, queue, options=options, env=extra):
        yield tmp_path / "agent.log"


def test_an_agent_run_keeps_its_token_from_the_script(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    token, hf = "tl_" + random_secrets.token_urlsafe(24), random_secrets.token_urlsafe(24)
    project, queue = unique("agent-secrets"), unique("secrets")
    source = f"PROJECT = {project!r}\nTOKEN_SHA = {_sha(token)!r}\nHF_SHA = {_sha(hf)!r}\n"
    repo = new_repo(tmp_path / "repo", {"train.py": source + SCRIPT})
    body = {"type": "str", "description": ""}
    draft = client.create_task(
        {
            # A name holding a secret of the agent's environment: the agent logs task names.
            # And an escape sequence: the log must not pass it to the operator's terminal.
            "name": f"run with {hf}\x1b[2J",
            "project": project,
            "status": "draft",
            "execution": {"repository": str(repo), "branch": "main",
                          "entry_point": "train.py", "working_dir": "."},
            # As a recorded run has it: the masked value must not replace the agent's token.
            "hyperparameters": {"Environment": {"TUNELAB_API_TOKEN": {"value": MASK, **body}}},
        }
    )  # fmt: skip

    with _agent(api_url, tmp_path, queue, TUNELAB_API_TOKEN=token, HF_TOKEN=hf) as log_path:
        client.enqueue_task(draft["id"], queue=queue)
        done = wait_for(
            lambda: (t := client.get_task(draft["id"]))["status"] in {"completed", "failed"} and t,
            120,
            "the agent to run the task",
        )
        agent_log = wait_for(
            lambda: (text := log_path.read_text()) and f"task {draft['id']} completed" in text
            and text,
            30,
            "the agent to log the task's end",
        )  # fmt: skip
    lines = client.get_console(draft["id"], limit=10_000)["lines"]
    texts = [line["text"] for line in lines]
    assert done["status"] == "completed", texts

    # The script saw the real secret variable, and a key of its own, not the agent's...
    seen = client.get_metrics(draft["id"])["metrics"]["seen"]
    assert {variant: s["last"] for variant, s in seen.items()} == {"token": 0.0, "hf": 1.0}
    # ...and nothing recorded or logged holds either (its own key is masked too).
    assert f"token: {MASK}" in texts and f"hf {MASK}" in texts
    assert any(f"(run with {MASK}" in text for text in texts)  # the agent's own line
    record = json.dumps(client.get_task(draft["id"]))
    assert token not in record
    for text in (json.dumps(lines), agent_log):
        assert token not in text and hf not in text
    assert f"took task {draft['id']} (run with {MASK}\\x1b[2J)" in agent_log
    assert "\x1b" not in agent_log


class _PrintingStandIn:
    """Stands in for ``docker run``: prints the command line it was given, as a launcher
    that logs its command would, and keeps the environment it was given."""

    last_env: dict[str, str] = {}

    def __init__(self, command: Sequence[str], cwd: Path, env: Mapping[str, str], sink: Sink):
        self.command, self.sink = list(command), sink
        _PrintingStandIn.last_env = dict(env)

    def start(self) -> None:
        self.sink("stdout", " ".join(self.command))

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def stop(self, grace: float) -> int:
        return 0


def test_the_docker_command_names_secrets_without_their_values(
    api_url: str, tmp_path: Path
) -> None:
    token = "tl_" + random_secrets.token_urlsafe(24)
    repo = new_repo(tmp_path / "repo", {"train.py": "print('hi')\n"})
    with ApiClient(api_url, token=token) as client:
        task_runner = TaskRunner(
            client,
            RepositoryCache(tmp_path / "repos"),
            EnvironmentBuilder(tmp_path / "envs"),
            _PrintingStandIn,
            tmp_path / "tasks",
            docker_image="python:3.11-slim",
        )
        draft = client.create_task(
            {"name": "docker", "project": unique("agent-secrets"), "status": "draft",
             "execution": {"repository": str(repo), "branch": "main",
                           "entry_point": "train.py", "working_dir": "."}}
        )  # fmt: skip
        task = client.start_task(draft["id"], unique("docker-worker"))
        assert task_runner.run(task) == "completed"
        texts = [line["text"] for line in client.get_console(task["id"], limit=1000)["lines"]]

    # docker takes the task's key from the environment the agent gives it, by name.
    task_key = task["task_key"]
    assert _PrintingStandIn.last_env["TUNELAB_API_TOKEN"] == task_key != token
    command_line = next(text for text in texts if text.startswith("docker run"))
    assert "-e TUNELAB_API_TOKEN " in command_line
    assert token not in json.dumps(texts) and task_key not in json.dumps(texts)


def test_docker_command_passes_secret_names_only(tmp_path: Path) -> None:
    env = {
        "TUNELAB_API_TOKEN": "tl_secret_value_1",
        "WANDB_API_KEY": "wandb_value_2",
        "TUNELAB_TASK_ID": "abc",
    }
    command = docker_command("python:3.11-slim", tmp_path, ".", "train.py", env)
    pairs = [command[i + 1] for i, part in enumerate(command) if part == "-e"]
    assert "TUNELAB_API_TOKEN" in pairs and "WANDB_API_KEY" in pairs
    assert "TUNELAB_TASK_ID=abc" in pairs
    assert "tl_secret_value_1" not in " ".join(command)
    assert "wandb_value_2" not in " ".join(command)
