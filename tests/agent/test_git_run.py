"""Experiments from a git commit, end to end: a real git server over HTTP asking for
credentials, a real server (login on) holding the ``[[git]]`` credential and a ``[[forge]]``
pointing at the fake forge, and a real agent daemon. The agent writes the edited parameter
into params.yaml, runs the script, commits the results and hands the bundle over; the server
pushes the branch with its own credential and opens the pull request."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]

from tests.accounts import login_server
from tests.agents import agent_daemon
from tests.fake_forge import FakeForge
from tests.git_server import GitServer
from tests.gitrepo import git, isolate_git, new_repo
from tests.waiting import wait_for
from tunelab.agent.environment import EnvironmentBuilder
from tunelab.agent.errors import AgentError
from tunelab.params_files import flat_params
from tunelab.sdk.parameters import param_body

USER, TOKEN, WRONG = "bot", "git-s3cret", "not-the-token"
REPO = "team/demo"
PARAMS = """\
# Training settings (this comment stays)
train:
  lr: 0.1  # learning rate
  epochs: 3
model:
  layers: [64, 32]  # hidden sizes
"""
TRAIN = """\
import json
import yaml

params = yaml.safe_load(open("params.yaml"))
acc = round(1 - params["train"]["lr"], 4)
with open("metrics.json", "w") as out:
    json.dump({"acc": acc, "epochs": params["train"]["epochs"]}, out)
print("trained: acc", acc)
"""


@dataclass
class Setup:
    api: httpx.Client
    git_server: GitServer
    forge: FakeForge
    config: Path
    project: str
    base: str  # the commit the runs start from
    queue: str
    agent_work: Path
    server_url: str = ""
    alice_key: str = ""

    def write_config(self, token: str) -> None:
        self.config.write_text(
            f'[[git]]\nhost = "127.0.0.1:{self.git_server.port}"\nusername = "{USER}"\n'
            f'token = "{token}"\n\n'
            f'[[forge]]\nurl = "{self.git_server.url}"\nkind = "github"\n'
            f'api_url = "{self.forge.api_url}"\ntoken = "{self.forge.token}"\n'
        )


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("git-run")
    with pytest.MonkeyPatch.context() as patch:
        isolate_git(patch, root)
        with (
            GitServer(root / "git", user=USER, password=TOKEN) as git_server,
            FakeForge(kind="github", token="forge-t0ken", url=git_server.url) as forge,
        ):
            git_server.create(REPO)
            work = new_repo(
                root / "work",
                {"params.yaml": PARAMS, "train.py": TRAIN, "metrics.json": '{"acc": 0.9}\n'},
            )
            git(work, "push", "-q", git_server.authed_url(REPO), "main")
            config = root / "config.toml"
            env = {"TUNELAB_CONFIG_FILE": str(config)}
            kinds = {"root": "admin", "alice": "member", "agent": "worker"}
            with login_server(root / "data", kinds, env=env) as (server, clients):
                api = clients["alice"]
                project = _ok(api.post("/projects", json={"name": "gitrun"}), 201)["id"]
                link = {"url": git_server.url_for(REPO), "default_branch": "main"}
                setup = Setup(
                    api, git_server, forge, config, project, "", "git-runs", root / "agent-work"
                )
                setup.write_config(TOKEN)
                setup.server_url = server.url
                setup.alice_key = str(api.headers["authorization"]).split(" ", 1)[1]
                _ok(api.put(f"/projects/{project}/repository", json=link))
                setup.base = git(work, "rev-parse", "HEAD")
                # The agent reads the repository with a credential of its own (it never
                # pushes); its environments come from the machine's uv cache.
                basic = base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
                agent_key = str(clients["agent"].headers["authorization"]).split(" ", 1)[1]
                agent_env = {
                    "TUNELAB_API_TOKEN": agent_key,
                    "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR")
                    or str(Path.home() / ".cache" / "uv"),
                    "GIT_CONFIG_COUNT": "1",
                    "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
                }
                EnvironmentBuilder(root / "agent-work" / "envs").build("", lambda line: None)
                options = ("--poll-timeout", "2")
                with agent_daemon(server.url, root, setup.queue, options=options, env=agent_env):
                    yield setup


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def _section(lr: str) -> dict[str, dict[str, str]]:
    """The params.yaml section as the Run form fills it: every key, typed, one edited."""
    section = {
        key: dict(param_body(p.value)) for key, p in flat_params("params.yaml", PARAMS).items()
    }
    section["train.lr"]["value"] = lr
    return section


def _git_run_task(s: Setup, name: str, branch: str, lr: str) -> str:
    body = {
        "name": name,
        "project": "gitrun",
        "execution": {"repository": s.git_server.url_for(REPO), "commit": s.base, "branch": "main"},
        "hyperparameters": {"params.yaml": _section(lr)},
        "git_run": {
            "params_files": ["params.yaml"],
            "script": "python train.py",
            "commit_message": f"Try lr {lr}",
            "commit_description": "From the Run form.",
            "base_branch": "main",
            "branch": branch,
            "pull_request": True,
        },
    }
    task_id: str = _ok(s.api.post("/tasks", json=body), 201)["id"]
    _ok(s.api.post(f"/tasks/{task_id}/enqueue", json={"queue": s.queue}))
    return task_id


def _ended(s: Setup, task_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        task: dict[str, Any] = _ok(s.api.get(f"/tasks/{task_id}"))
        return task if task["status"] in ("completed", "failed", "stopped") else None

    task = wait_for(done, 180, "the agent to run the git run")
    console = [x["text"] for x in _ok(s.api.get(f"/tasks/{task_id}/console"))["lines"]]
    assert task["status"] == "completed", "\n".join(console)
    return task


def _on_server(s: Setup, *args: str) -> str:
    return git(s.git_server.root / f"{REPO}.git", *args)


def test_a_git_run_pushes_its_results_commit_and_opens_a_pull_request(setup: Setup) -> None:
    s = setup
    s.write_config(TOKEN)
    task_id = _git_run_task(s, "lr-0.05", "exp-lr", "0.05")
    task = _ended(s, task_id)

    results = task["git_run"]["results"]
    assert results["state"] == "pushed", results
    assert results["branch"] == "exp-lr" and results["bundle"] == "git-results"
    head = _on_server(s, "rev-parse", "refs/heads/exp-lr")
    assert head == results["commit"]
    assert _on_server(s, "rev-parse", "exp-lr^") == s.base
    # params.yaml holds the new value, its comments (at their column) and order kept;
    # metrics.json is the run's.
    assert _on_server(s, "show", "exp-lr:params.yaml") == PARAMS.replace(
        "lr: 0.1  #", "lr: 0.05 #"
    ).rstrip("\n")
    assert '"acc": 0.95' in _on_server(s, "show", "exp-lr:metrics.json")
    message = _on_server(s, "log", "-1", "--format=%an|%cn|%B", "exp-lr")
    assert message.startswith("alice|Tunelab|Try lr 0.05") and "From the Run form." in message
    # The main branch is untouched; the agent never pushed (only the server's credential).
    assert _on_server(s, "rev-parse", "refs/heads/main") == s.base
    # One pull request, naming the change and the metric, linking back.
    pulls = [r for r in s.forge.requests if r.method == "POST" and r.path.endswith("/pulls")]
    assert len(pulls) == 1
    assert pulls[0].path == "/repos/team/demo/pulls"
    assert pulls[0].json["head"] == "exp-lr" and pulls[0].json["base"] == "main"
    assert "`train.lr`: 0.1 → 0.05" in pulls[0].json["body"]
    assert "acc: 0.95" in pulls[0].json["body"]
    assert f"/experiments/{task_id}" in pulls[0].json["body"]
    assert results["pull_request_url"] == s.forge.pulls[("team/demo", "exp-lr", "main")]


def test_a_refused_push_is_shown_and_retried_once_the_credential_is_fixed(setup: Setup) -> None:
    s = setup
    s.write_config(WRONG)
    try:
        task_id = _git_run_task(s, "lr-0.2", "exp-retry", "0.2")
        task = _ended(s, task_id)
    finally:
        s.write_config(TOKEN)
    results = task["git_run"]["results"]
    assert results["state"] == "failed" and results["error"], results
    assert WRONG not in results["error"] and TOKEN not in results["error"]
    assert results["commit"] and results["bundle"] == "git-results"
    refused = git(s.git_server.root / f"{REPO}.git", "branch", "--list", "exp-retry")
    assert refused == ""

    # The experiment page says so, in its header and on its Info tab with a Retry button.
    with httpx.Client(base_url=s.server_url, headers=s.api.headers, timeout=30) as web:
        page = web.get(f"/experiments/{task_id}/info")
        assert page.status_code == 200, page.text
        assert "⚠ results not pushed" in page.text
        assert f"results not pushed: {results['error']}"[:60] in page.text.replace("&#39;", "'")
        assert f'hx-post="/experiments/{task_id}/git-results/push"' in page.text
        web.headers["X-CSRF-Token"] = web.cookies["tunelab_csrf"]  # as app.js sends it
        retried = web.post(
            f"/experiments/{task_id}/git-results/push", headers={"HX-Request": "true"}
        )
        assert retried.status_code == 200, retried.text
        assert "Pushed" in retried.headers["HX-Trigger"]
    assert _ok(s.api.get(f"/tasks/{task_id}"))["git_run"]["results"]["state"] == "pushed"
    assert _on_server(s, "rev-parse", "refs/heads/exp-retry") == results["commit"]
    assert "lr: 0.2  #" in _on_server(s, "show", "exp-retry:params.yaml")
    again = s.api.post(f"/tasks/{task_id}/git-results/push")
    assert again.status_code == 409, again.text


DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, data/input.csv]
    params: [train.lr]
    outs: [model.txt]
    metrics:
      - metrics.json:
          cache: false
"""
DVC_TRAIN = """\
import json
import os
import time
import yaml
from dvclive import Live

lr = yaml.safe_load(open("params.yaml"))["train"]["lr"]
rows = open("data/input.csv").read().split()
with Live("dvclive", dvcyaml=None, save_dvc_exp=False, report=None) as live:
    for step in range(3):
        live.log_metric("loss", lr / (step + 1))
        live.next_step()
        # Held after the first step until the test has seen it on the running task.
        for _ in range(600 if step == 0 else 0):
            if os.path.exists(os.environ["GATE"]):
                break
            time.sleep(0.05)
open("model.txt", "w").write(f"model of {len(rows)} rows, lr {lr}\\n")
json.dump({"rows": len(rows), "lr": lr}, open("metrics.json", "w"))
"""


def _dvc_project(work: Path, remote: Path) -> None:
    """DVC set up in ``work``, with a local-folder remote holding the ``.dvc``-tracked data
    file (one Python process: each ``dvc`` command would cost a start of its own)."""
    (work / "data").mkdir()
    (work / "data" / "input.csv").write_text("a\nb\n")
    steps = f"""
from dvc.repo import Repo
Repo.init(".")
with open(".dvc/config", "w") as out:
    out.write("[core]\\n    remote = store\\n['remote \\"store\\"']\\n    url = {remote}\\n")
with Repo(".") as repo:
    repo.add("data/input.csv")
    repo.push()
"""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", steps], cwd=work, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def _prebuilt(envs: Path, requirements: str) -> None:
    """The task's environment built ahead from the uv cache when it holds every package
    (offline: no index requests), else as the agent would."""
    builder = EnvironmentBuilder(envs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UV_OFFLINE", "1")
        try:
            builder.build(requirements, lambda line: None)
            return
        except AgentError:
            pass
    builder.build(requirements, lambda line: None)


def test_a_dvc_pipeline_run_commits_dvc_lock_and_pushes_its_outputs(
    setup: Setup, tmp_path: Path
) -> None:
    """DVC from PyPI in the task's environment: a changed parameter and a replaced
    ``.dvc``-tracked data file; DVCLive's metrics arrive on the task while it runs; the
    results commit holds params.yaml, metrics.json and dvc.lock, the DVC remote the
    outputs."""
    s = setup
    s.write_config(TOKEN)
    remote = tmp_path / "dvc-remote"
    work = new_repo(
        tmp_path / "dvc-work",
        {"params.yaml": "train:\n  lr: 0.1  # step size\n", "train.py": DVC_TRAIN,
         "dvc.yaml": DVC_YAML},
    )  # fmt: skip
    _dvc_project(work, remote)
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "dvc project")
    s.git_server.create("team/dvc")
    git(work, "push", "-q", s.git_server.authed_url("team/dvc"), "main")
    base = git(work, "rev-parse", "HEAD")
    project = _ok(s.api.post("/projects", json={"name": "dvcrun"}), 201)["id"]
    link = {"url": s.git_server.url_for("team/dvc"), "default_branch": "main"}
    _ok(s.api.put(f"/projects/{project}/repository", json=link))

    gate = tmp_path / "go"
    replacement = tmp_path / "new-input.csv"
    replacement.write_text("a\nb\nc\nd\n")
    versions = {name: importlib.metadata.version(name) for name in ("dvc", "dvclive")}
    requirements = "".join(f"{n}=={v}\n" for n, v in versions.items())
    _prebuilt(s.agent_work / "envs", requirements)
    section = {"train.lr": {"value": "0.3", "type": "float", "description": ""}}
    body = {
        "name": "dvc-lr",
        "project": "dvcrun",
        "execution": {
            "repository": link["url"], "commit": base, "branch": "main",
            "requirements": requirements,
        },
        "hyperparameters": {"params.yaml": section},
        "git_run": {
            "params_files": ["params.yaml"],
            "data_files": [{
                "path": "data/input.csv", "uri": str(replacement),
                "sha256": hashlib.sha256(replacement.read_bytes()).hexdigest(),
                "size": replacement.stat().st_size,
            }],
            "script": f"export GATE={gate}\ndvc repro\n",
            "commit_message": "lr 0.3 on four rows",
            "base_branch": "main", "branch": "main", "pull_request": False,
        },
    }  # fmt: skip
    task_id = _ok(s.api.post("/tasks", json=body), 201)["id"]
    _ok(s.api.post(f"/tasks/{task_id}/enqueue", json={"queue": s.queue}))
    try:
        # DVCLive's first step arrives on this task while it runs.
        wait_for(lambda: _loss(s, task_id).get("x") == [0], 120, "step 0 live on the task")
        assert _ok(s.api.get(f"/tasks/{task_id}"))["status"] == "running"
    finally:
        gate.touch()
    task = _ended(s, task_id)

    results = task["git_run"]["results"]
    assert results["state"] == "pushed", results
    bare = s.git_server.root / "team/dvc.git"
    assert git(bare, "rev-parse", "refs/heads/main") == results["commit"]
    changed = set(git(bare, "show", "--name-only", "--format=", "main").split())
    assert changed == {
        "params.yaml",
        "metrics.json",
        "dvc.lock",
        "data/input.csv.dvc",
        ".gitignore",
    }
    assert git(bare, "show", "main:params.yaml") == "train:\n  lr: 0.3  # step size"
    assert '"rows": 4' in git(bare, "show", "main:metrics.json")
    # The DVC remote holds the run's outputs: the model and the new data.
    lock = git(bare, "show", "main:dvc.lock")
    outs = yaml.safe_load(lock)["stages"]["train"]["outs"]
    model_md5 = next(o["md5"] for o in outs if o["path"] == "model.txt")
    assert (remote / "files" / "md5" / model_md5[:2] / model_md5[2:]).is_file()
    # Every step of DVCLive's metrics is on the task, none twice.
    loss = _loss(s, task_id)
    assert loss["x"] == [0, 1, 2] and loss["y"][0] == pytest.approx(0.3)


def _loss(s: Setup, task_id: str) -> dict[str, Any]:
    metrics = _ok(s.api.get(f"/tasks/{task_id}/scalars"))["metrics"]
    found: dict[str, Any] = metrics.get("loss", {}).get("loss", {})
    return found


def test_create_branch_from_a_recorded_run_commits_its_diff(setup: Setup, tmp_path: Path) -> None:
    s = setup
    s.write_config(TOKEN)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", s.git_server.authed_url(REPO), str(clone))
    (clone / "train.py").write_text(TRAIN.replace("round(1 -", "round(2 -"))
    (clone / "notes.md").write_text("a new file\n")
    git(clone, "add", "-N", "notes.md")
    diff = git(clone, "diff", "--binary") + "\n"
    body = {
        "name": "sdk-run", "project": "gitrun", "status": "completed",
        "execution": {"repository": s.git_server.url_for(REPO), "commit": s.base,
                      "branch": "main", "diff": diff, "entry_point": "train.py"},
    }  # fmt: skip
    task_id = _ok(s.api.post("/tasks", json=body), 201)["id"]
    before = len(s.forge.requests)

    bad = s.api.post(f"/tasks/{task_id}/git-results/branch", json={"branch": "-x"})
    assert bad.status_code == 422 or bad.status_code == 400, bad.text
    command = [
        sys.executable, "-m", "tunelab.cli.main", "task", "create-branch", task_id,
        "--branch", "from-sdk", "--pull-request", "--title", "Keep the sdk run",
    ]  # fmt: skip
    env = {**os.environ, "TUNELAB_API_URL": s.server_url, "TUNELAB_API_TOKEN": s.alice_key}
    cli = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    pushed, pull_request = cli.stdout.splitlines()
    head = _on_server(s, "rev-parse", "refs/heads/from-sdk")
    assert pushed == f"pushed {head[:12]} to from-sdk"
    assert _on_server(s, "rev-parse", "from-sdk^") == s.base
    assert "round(2 -" in _on_server(s, "show", "from-sdk:train.py")
    assert _on_server(s, "show", "from-sdk:notes.md") == "a new file"
    assert _on_server(s, "log", "-1", "--format=%s", "from-sdk") == "Keep the sdk run"
    pulls = [r for r in s.forge.requests[before:] if r.path.endswith("/pulls")]
    assert [p.json["head"] for p in pulls] == ["from-sdk"]
    assert pull_request == f"pull request: {s.forge.pulls[('team/demo', 'from-sdk', 'main')]}"
    # The commits view of that branch lists the new commit.
    commits = _ok(
        s.api.get(f"/projects/{s.project}/repository/commits", params={"branch": "from-sdk"})
    )
    assert commits["items"][0]["sha"] == head
    with httpx.Client(base_url=s.server_url, headers=s.api.headers, timeout=30) as web:
        page = web.get(f"/projects/{s.project}", params={"group": "commit", "branch": "from-sdk"})
        assert page.status_code == 200, page.text
        assert head[:7] in page.text and "Keep the sdk run" in page.text
    taken = s.api.post(f"/tasks/{task_id}/git-results/branch", json={"branch": "from-sdk"})
    assert taken.status_code == 409, taken.text


def test_a_data_file_that_does_not_match_its_sha256_fails_the_run(
    setup: Setup, tmp_path: Path
) -> None:
    s = setup
    s.write_config(TOKEN)
    data = tmp_path / "swapped.csv"
    data.write_text("not what was uploaded\n")
    body = {
        "name": "bad-data",
        "project": "gitrun",
        "execution": {"repository": s.git_server.url_for(REPO), "commit": s.base, "branch": "main"},
        "git_run": {
            "data_files": [{"path": "data.csv", "uri": str(data), "sha256": "a" * 64, "size": 3}],
            "script": "python train.py",
            "branch": "never-pushed",
            "base_branch": "main",
        },
    }
    task_id = _ok(s.api.post("/tasks", json=body), 201)["id"]
    _ok(s.api.post(f"/tasks/{task_id}/enqueue", json={"queue": s.queue}))

    def ended() -> dict[str, Any] | None:
        task: dict[str, Any] = _ok(s.api.get(f"/tasks/{task_id}"))
        return task if task["status"] in ("completed", "failed", "stopped") else None

    task = wait_for(ended, 120, "the agent to refuse the data file")
    assert task["status"] == "failed"
    assert task["status_reason"].startswith("inputs failed: data.csv: the download of")
    assert "does not match its recorded sha256" in task["status_reason"]
    assert task["git_run"]["results"]["state"] == ""
    assert _on_server(s, "branch", "--list", "never-pushed") == ""
