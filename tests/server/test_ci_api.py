"""A project's CI setup through the API of the session's real server: rendering the files,
saving the wizard's fields, and ``dispatch_ci_run`` starting the saved workflow on the fake
forge that stands in for GitHub and GitLab. Who may do what is the access matrix's part
(tests/server/test_access_matrix.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]

from tests.fake_forge import FakeForge
from tests.services import ServerProcess
from tunelab.errors import ConfigError, ForgeError
from tunelab.server.ci_dispatch import dispatch_ci_run

GITHUB_TOKEN, GITLAB_TOKEN = "ghp-forge-7d1c9e", "glpat-forge-0b6a2f"


@dataclass
class Setup:
    api: httpx.Client
    github: FakeForge
    gitlab: FakeForge
    config: Path
    project: str  # linked to a GitHub repository


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, server: ServerProcess) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("ci-api")
    with (
        FakeForge(kind="github", token=GITHUB_TOKEN, url="https://github.com") as github,
        FakeForge(kind="gitlab", token=GITLAB_TOKEN, url="https://gitlab.example.com") as gitlab,
        pytest.MonkeyPatch.context() as patch,
        httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as api,
    ):
        config = root / "config.toml"
        config.write_text(
            f'[[forge]]\nurl = "https://github.com"\nkind = "github"\n'
            f'api_url = "{github.api_url}"\ntoken = "{GITHUB_TOKEN}"\n\n'
            f'[[forge]]\nurl = "https://gitlab.example.com"\nkind = "gitlab"\n'
            f'api_url = "{gitlab.api_url}"\ntoken = "{GITLAB_TOKEN}"\n'
        )
        # dispatch_ci_run runs in this process, reading the server's config file.
        patch.setenv("TUNELAB_CONFIG_FILE", str(config))
        name = f"ci-api-{uuid.uuid4().hex[:8]}"
        project = api.post("/projects", json={"name": name}).json()["id"]
        link = {"url": "https://github.com/team/model.git", "default_branch": "main"}
        linked = api.put(f"/projects/{project}/repository", json=link)
        assert linked.status_code == 200, linked.text
        yield Setup(api, github, gitlab, config, project)


def _error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    return error


def test_render_answers_both_files(setup: Setup) -> None:
    s = setup
    body = {"runner": "self-hosted", "labels": ["gpu: 'a'"], "workflow_file": "train.yml"}
    answer = s.api.post(f"/projects/{s.project}/ci-workflow", json=body)
    assert answer.status_code == 200, answer.text
    files = answer.json()
    github = yaml.safe_load(files["github"])
    assert github["jobs"]["run-task"]["runs-on"] == ["self-hosted", "gpu: 'a'"]
    assert yaml.safe_load(files["gitlab"])["tunelab-run-task"]["tags"] == ["gpu: 'a'"]
    bad = s.api.post(f"/projects/{s.project}/ci-workflow", json={"labels": ["a$b"]})
    assert _error(bad, 400)["detail"] == {"key": "labels"}
    unknown = s.api.post(f"/projects/{s.project}/ci-workflow", json={"x": 1})
    assert unknown.status_code == 400


def test_save_and_read_the_fields(setup: Setup) -> None:
    s = setup
    path = f"/projects/{s.project}/ci-settings"
    fresh = s.api.get(path).json()
    assert fresh["saved"] is False and fresh["settings"]["workflow_file"] == "tunelab.yml"
    body = {"runner": "cloud", "gpu": "v100", "workflow_file": "train.yml"}
    saved = s.api.put(path, json=body)
    assert saved.status_code == 200, saved.text
    assert s.api.get(path).json() == {
        "saved": True,
        "settings": {**fresh["settings"], **body},
    }
    # A project linked to no repository has nowhere to keep them.
    other = s.api.post("/projects", json={"name": f"unlinked-{uuid.uuid4().hex[:8]}"}).json()["id"]
    _error(s.api.put(f"/projects/{other}/ci-settings", json=body), 404)


def test_dispatch_starts_the_saved_workflow_on_github(setup: Setup) -> None:
    s = setup
    body = {"workflow_file": "train.yml"}
    assert s.api.put(f"/projects/{s.project}/ci-settings", json=body).is_success
    link = s.api.get(f"/projects/{s.project}/repository").json()
    assert link["ci_settings"]["workflow_file"] == "train.yml"
    dispatch_ci_run(None, link, "0f" * 16, "main")
    sent = s.github.requests[-1]
    assert (sent.method, sent.path) == (
        "POST",
        "/repos/team/model/actions/workflows/train.yml/dispatches",
    )
    assert sent.json == {"ref": "main", "inputs": {"task_id": "0f" * 16}}
    assert sent.headers["authorization"] == f"Bearer {GITHUB_TOKEN}"


def test_dispatch_starts_a_gitlab_pipeline(setup: Setup) -> None:
    s = setup
    link = {"url": "git@gitlab.example.com:group/model.git", "ci_settings": None}
    dispatch_ci_run(None, link, "ab" * 16, "tunelab/try-1")
    sent = s.gitlab.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/projects/group%2Fmodel/pipeline")
    assert sent.json == {
        "ref": "tunelab/try-1",
        "variables": [{"key": "task_id", "value": "ab" * 16}],
    }
    assert sent.headers["private-token"] == GITLAB_TOKEN


def test_dispatch_without_a_forge_or_refused_says_why(setup: Setup) -> None:
    with pytest.raises(ConfigError) as none:
        dispatch_ci_run(None, {"url": "https://bitbucket.org/team/model.git"}, "t", "main")
    assert none.value.status == 400 and "[[forge]]" in none.value.message
    s = setup
    s.config.write_text(
        s.config.read_text().replace(f'token = "{GITHUB_TOKEN}"', 'token = "revoked-1"')
    )
    try:
        with pytest.raises(ForgeError) as refused:
            dispatch_ci_run(None, {"url": "https://github.com/team/model"}, "t", "main")
    finally:
        s.config.write_text(
            s.config.read_text().replace('token = "revoked-1"', f'token = "{GITHUB_TOKEN}"')
        )
    assert refused.value.status == 409
    assert "Bad credentials" in refused.value.message and "revoked-1" not in refused.value.message
