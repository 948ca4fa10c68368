"""The GitHub and GitLab clients against the fake forge: the requests' shape, the answers
they return, and the refusals they turn into ForgeError (without the token)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_forge import FakeForge
from tunelab.forge import ForgeError, Forges, client_for, forge_for

TOKEN = "s3cret-forge-token"


@pytest.fixture(scope="module")
def github() -> Iterator[FakeForge]:
    with FakeForge(kind="github", token=TOKEN, url="https://github.com") as forge:
        yield forge


@pytest.fixture(scope="module")
def gitlab() -> Iterator[FakeForge]:
    with FakeForge(kind="gitlab", token=TOKEN, url="https://gitlab.example.com") as forge:
        yield forge


def test_github_dispatch_sends_ref_inputs_and_token(github: FakeForge) -> None:
    client = client_for(github.entry())
    client.dispatch_workflow(
        "https://github.com/team/model.git",
        workflow="tunelab.yml",
        ref="tunelab/run-1",
        inputs={"task_id": "abc123"},
    )
    sent = github.requests[-1]
    assert sent.method == "POST"
    assert sent.path == "/repos/team/model/actions/workflows/tunelab.yml/dispatches"
    assert sent.json == {"ref": "tunelab/run-1", "inputs": {"task_id": "abc123"}}
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["accept"] == "application/vnd.github+json"


def test_github_pull_request_answers_its_url_and_then_the_open_one(github: FakeForge) -> None:
    client = client_for(github.entry())
    repo = "git@github.com:team/model.git"  # an ssh address of the same repository
    url = client.open_pull_request(repo, head="tunelab/pr-1", base="main", title="T", body="B")
    assert url == "https://github.com/team/model/pull/1"
    sent = github.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/repos/team/model/pulls")
    assert sent.json == {"title": "T", "body": "B", "head": "tunelab/pr-1", "base": "main"}
    again = client.open_pull_request(repo, head="tunelab/pr-1", base="main", title="T")
    assert again == url
    assert github.requests[-1].query == {
        "head": "team:tunelab/pr-1",
        "base": "main",
        "state": "open",
    }


def test_github_wrong_token_is_a_forge_error_without_the_token(github: FakeForge) -> None:
    wrong = "wrong-token-value"
    client = client_for(github.entry(token=wrong))
    with pytest.raises(ForgeError) as refused:
        client.dispatch_workflow(
            "https://github.com/team/model", workflow="tunelab.yml", ref="main", inputs={}
        )
    assert "401" in refused.value.message and "Bad credentials" in refused.value.message
    assert wrong not in str(refused.value) and TOKEN not in str(refused.value)
    assert refused.value.status == 409 and refused.value.code == "forge_error"


def test_gitlab_pipeline_sends_variables_and_private_token(gitlab: FakeForge) -> None:
    client = client_for(gitlab.entry())
    client.dispatch_workflow(
        "https://gitlab.example.com/group/sub/model.git",
        workflow="ignored.yml",
        ref="main",
        inputs={"task_id": "abc123"},
    )
    sent = gitlab.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/projects/group%2Fsub%2Fmodel/pipeline")
    assert sent.json == {"ref": "main", "variables": [{"key": "task_id", "value": "abc123"}]}
    assert sent.headers["private-token"] == TOKEN
    assert "authorization" not in sent.headers


def test_gitlab_merge_request_and_the_existing_one(gitlab: FakeForge) -> None:
    client = client_for(gitlab.entry())
    repo = "https://gitlab.example.com/group/model"
    url = client.open_pull_request(repo, head="tunelab/x", base="main", title="T", body="B")
    assert url == "https://gitlab.example.com/group/model/-/merge_requests/1"
    assert gitlab.requests[-1].json == {
        "source_branch": "tunelab/x",
        "target_branch": "main",
        "title": "T",
        "description": "B",
    }
    assert client.open_pull_request(repo, head="tunelab/x", base="main", title="T") == url


def test_gitlab_refusal_names_the_forge_message(gitlab: FakeForge) -> None:
    client = client_for(gitlab.entry(token="nope"))
    with pytest.raises(ForgeError, match="GitLab answered 401 401 Unauthorized"):
        client.open_pull_request(
            "https://gitlab.example.com/group/model", head="a", base="b", title="t"
        )


def test_an_unreachable_forge_is_a_forge_error() -> None:
    with FakeForge(kind="github", token=TOKEN) as forge:
        entry = forge.entry()
    # The server is shut down: nothing listens there any more.
    with pytest.raises(ForgeError, match="did not answer"):
        client_for(entry).dispatch_workflow(
            "https://github.com/a/b", workflow="w.yml", ref="main", inputs={}
        )


def test_forge_for_picks_by_host_and_path(github: FakeForge, gitlab: FakeForge) -> None:
    forges = Forges((github.entry(), gitlab.entry()))
    chosen = forge_for(None, "https://github.com/team/model.git", forges=forges)
    assert chosen is not None and chosen.name == "GitHub"
    chosen = forge_for(forges, "git@gitlab.example.com:group/model.git")
    assert chosen is not None and chosen.name == "GitLab"
    assert forge_for(forges, "https://bitbucket.org/team/model.git") is None
    assert forge_for(forges, "/srv/repos/model.git") is None
    with pytest.raises(ForgeError, match="not a repository on"):
        client_for(github.entry()).dispatch_workflow(
            "https://example.org/x/y", workflow="w.yml", ref="main", inputs={}
        )
