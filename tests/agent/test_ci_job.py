"""The CI job the wizard writes, run as a GitHub-hosted runner would run it: a fresh clone
of a real repository (a git server over HTTP that asks for the job's token), the job's
environment from its ``env:`` with the repository's secrets and the dispatch's ``task_id``,
and each ``run:`` step in bash as Actions runs it (``$GITHUB_ENV`` carried between steps),
against a real server. The task is executed by ``tunelab agent execute`` and completes with
its scalars. Only the ``pip install`` step is left out: the runner here has Tunelab already
(the test's virtual environment)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml  # type: ignore[import-untyped]

from tests.accounts import login_server
from tests.git_server import GitServer
from tests.gitrepo import git, isolate_git, new_repo
from tunelab.agent.environment import EnvironmentBuilder
from tunelab.gitops.ci_settings import CiSettings
from tunelab.gitops.ci_workflow import github_workflow

# The job's token: the git server asks for it as GitHub asks for GITHUB_TOKEN.
JOB_TOKEN = "ghs-job-t0ken-91c2"
TRAIN = """\
from tunelab import Task

task = Task.init(project_name="ci-jobs", task_name="train")
logger = task.get_logger()
for i in range(3):
    logger.report_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
print("trained in CI")
"""
EXPRESSION = re.compile(r"\$\{\{ (secrets\.\w+|inputs\.\w+|github\.token) \}\}")


@dataclass
class Setup:
    root: Path
    api: httpx.Client
    api_url: str
    api_key: str
    git_server: GitServer
    sha: str


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("ci-job")
    with pytest.MonkeyPatch.context() as patch:
        isolate_git(patch, root)
        with GitServer(root / "git", user="x-access-token", password=JOB_TOKEN) as git_server:
            git_server.create("team/model")
            work = new_repo(root / "work", {"train.py": TRAIN})
            git(work, "push", "-q", git_server.authed_url("team/model"), "main")
            # The repository's TUNELAB_API_KEY secret: a worker account's key, as agents use.
            kinds = {"root": "admin", "alice": "member", "ci": "worker"}
            with login_server(root / "data", kinds) as (server, clients):
                api = clients["alice"]
                key = str(clients["ci"].headers["authorization"]).split(" ", 1)[1]
                yield Setup(root, api, server.url, key, git_server, git(work, "rev-parse", "HEAD"))


def _runner_env(s: Setup, home: Path, workspace: Path) -> dict[str, str]:
    """What a runner gives every step: its own home, the tools on PATH, GitHub's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNELAB_", "GIT_"))}
    env.update(
        HOME=str(home),
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        CI="true",
        GITHUB_ACTIONS="true",
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_SERVER_URL=s.git_server.url,
        GITHUB_ENV=str(home / "github_env"),
        GIT_CONFIG_NOSYSTEM="1",
        # The machine's uv cache: the task's environment is built without the network.
        UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv"),
    )
    (home / "github_env").write_text("")
    return env


def _evaluate(values: Mapping[str, str], context: Mapping[str, str]) -> dict[str, str]:
    """The job's ``env:`` as Actions evaluates it: each value one expression or plain text."""
    out = {}
    for key, value in values.items():
        match = EXPRESSION.fullmatch(value)
        if match:
            out[key] = context[match.group(1)]
        else:
            assert "${{" not in value, f"{key}: {value}"
            out[key] = value
    return out


def _github_env(path: Path) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in path.read_text().splitlines() if "=" in line]
    return {k: v for k, v in pairs}


def _run_job(
    s: Setup, workspace: Path, home: Path, task_id: str, skip: tuple[str, ...] = ()
) -> list[subprocess.CompletedProcess[str]]:
    """Every ``run:`` step of the run-task job, in order, until one fails."""
    workflow = yaml.safe_load(github_workflow(CiSettings()))
    job = workflow["jobs"]["run-task"]
    assert job["if"].startswith("github.event_name == 'workflow_dispatch'")
    context = {
        "secrets.TUNELAB_API_URL": s.api_url,
        "secrets.TUNELAB_API_KEY": s.api_key,
        "inputs.task_id": task_id,
        "github.token": JOB_TOKEN,
    }
    base = _runner_env(s, home, workspace)
    job_env = _evaluate(job["env"], context)
    done = []
    for step in job["steps"]:
        if "run" not in step or step.get("name") in skip:
            continue
        env = {**base, **job_env, **_github_env(home / "github_env")}
        env.update(_evaluate(step.get("env", {}), context))
        script = home / "step.sh"
        script.write_text(step["run"])
        # Actions' own command line for `shell: bash`.
        ran = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        done.append(ran)
        if ran.returncode != 0:
            break
    return done


def _checkout(s: Setup, workspace: Path) -> None:
    """actions/checkout: the commit, fetched with the job's token."""
    git(s.root, "clone", "-q", s.git_server.authed_url("team/model"), str(workspace))
    git(workspace, "checkout", "-q", s.sha)


def test_the_generated_job_runs_the_task_to_completion(setup: Setup) -> None:
    s = setup
    body = {
        "name": "train",
        "project": "ci-jobs",
        "status": "draft",
        "execution": {
            "repository": s.git_server.url_for("team/model"),
            "branch": "main",
            "commit": s.sha,
            "entry_point": "train.py",
            "working_dir": ".",
        },
        # A run the Run form sends to CI: a draft the CI job's worker key may start.
        "git_run": {"script": "python train.py", "runs_on": "ci", "base_branch": "main"},
    }
    answer = s.api.post("/tasks", json=body)
    assert answer.status_code == 201, answer.text
    task_id = answer.json()["id"]
    home, workspace = s.root / "runner-home", s.root / "workspace"
    home.mkdir()
    _checkout(s, workspace)
    # The environment the agent builds, made once from the machine's uv cache.
    EnvironmentBuilder(home / ".tunelab" / "agent" / "envs").build("", lambda line: None)

    # Without the job's token the agent could not fetch the repository: the server asks.
    refused = subprocess.run(
        ["git", "ls-remote", s.git_server.url_for("team/model")],
        env={**_runner_env(s, home, workspace), "GIT_TERMINAL_PROMPT": "0"},
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0

    steps = _run_job(s, workspace, home, task_id, skip=("Install Tunelab",))
    log = "\n".join(r.stdout + r.stderr for r in steps)
    console = s.api.get(f"/tasks/{task_id}/console").json()["lines"]
    log += "\n".join(line["text"] for line in console)
    assert len(steps) == 3 and all(r.returncode == 0 for r in steps), log
    assert f"task {task_id}: completed" in steps[-1].stdout, log
    assert JOB_TOKEN not in log

    task = s.api.get(f"/tasks/{task_id}").json()
    assert task["status"] == "completed" and task["git_run"]["runs_on"] == "ci"
    metrics = s.api.get(f"/tasks/{task_id}/metrics").json()["metrics"]
    assert metrics["loss"]["train"]["last"] == pytest.approx(1 / 3)
    assert any("trained in CI" in line["text"] for line in console)


def test_a_worker_key_starts_only_queued_tasks_and_drafts_sent_to_ci(setup: Setup) -> None:
    s = setup
    worker = httpx.Client(
        base_url=f"{s.api_url}/api/v1", headers={"Authorization": f"Bearer {s.api_key}"}
    )
    with worker:
        assert worker.post("/workers", json={"id": "ci-runner-1"}).status_code in (200, 201)
        plain = s.api.post(
            "/tasks", json={"name": "plain", "project": "ci-jobs", "status": "draft"}
        )
        refused = worker.post(f"/tasks/{plain.json()['id']}/start", json={"worker": "ci-runner-1"})
        assert refused.status_code == 403, refused.text
        assert "may only change the tasks it runs" in refused.json()["error"]["message"]


def test_a_push_names_its_task_in_a_trailer(setup: Setup, tmp_path: Path) -> None:
    """The push trigger: no input, the head commit's ``Tunelab-Task:`` trailer gives the id;
    a push without one fails the job with a sentence, before any script runs."""
    s = setup
    workspace, home = tmp_path / "workspace", tmp_path / "home"
    home.mkdir()
    _checkout(s, workspace)
    git(workspace, "commit", "-q", "--allow-empty", "-m", "Try it\n\nTunelab-Task: 0123abcd")
    steps = _run_job(s, workspace, home, "", skip=("Install Tunelab", "Run the task"))
    assert [r.returncode for r in steps] == [0, 0], [r.stderr for r in steps]
    assert _github_env(home / "github_env")["TUNELAB_TASK_ID"] == "0123abcd"

    git(workspace, "commit", "-q", "--allow-empty", "-m", "no trailer")
    (home / "github_env").write_text("")
    steps = _run_job(s, workspace, home, "", skip=("Install Tunelab",))
    assert steps[0].returncode == 1 and "no Tunelab task" in steps[0].stderr
