"""Linking a project to a git repository and reading it through the API, against a real
server process and a real git server over HTTP with basic credentials: who may link and
read, what a hostile branch or path gets, and that the credentials never leave the server."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.accounts import login_server
from tests.git_server import GitServer
from tests.gitrepo import git, new_repo, write
from tests.services import ServerProcess

USER, TOKEN = "ci-bot", "tok-6b1e9d04c7aa"
WRONG = "tok-wrong-55e1aa"
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    **{
        f"GIT_{r}_{k}": v
        for r in ("AUTHOR", "COMMITTER")
        for k, v in (("NAME", "Tester"), ("EMAIL", "tester@example.com"))
    },
}


@dataclass
class Setup:
    server: ServerProcess
    clients: dict[str, httpx.Client]
    served: GitServer
    refused: GitServer
    project: str
    other_project: str
    work: Path
    shas: list[str]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("repos-api")
    saved_env = {k: os.environ.get(k) for k in GIT_ENV}
    os.environ.update(GIT_ENV)
    try:
        with (
            GitServer(root / "served", user=USER, password=TOKEN) as served,
            GitServer(root / "refused", user=USER, password="the-real-one") as refused,
        ):
            served.create("demo")
            refused.create("demo")
            work = new_repo(root / "work", {"params.yaml": "lr: 0.1\nlayers: [64, 32]\n"})
            write(work / "metrics.json", json.dumps({"acc": 0.8, "eval": {"f1": 0.7}}))
            git(work, "add", ".")
            git(work, "commit", "-q", "-m", "add metrics")
            git(work, "commit", "-q", "--allow-empty", "-m", "results [skip tunelab]")
            git(work, "push", "-q", served.authed_url("demo"), "main")
            git(work, "push", "-q", refused.authed_url("demo"), "main")
            shas = git(work, "log", "--format=%H").split()
            config = root / "config.toml"
            config.write_text(
                f'[[git]]\nhost = "127.0.0.1:{served.port}"\nusername = "{USER}"\n'
                f'token = "{TOKEN}"\n\n'
                f'[[git]]\nhost = "127.0.0.1:{refused.port}"\nusername = "{USER}"\n'
                f'token = "{WRONG}"\n'
            )
            env = {"TUNELAB_CONFIG_FILE": str(config), "TUNELAB_SERVE_LOCAL_FILES": "on"}
            kinds = {"root": "admin", "owner": "member", "viewer": "member", "outsider": "member"}
            with login_server(root / "data", kinds, env=env) as (server, clients):
                project = clients["owner"].post("/projects", json={"name": "gitproj"}).json()
                other = clients["outsider"].post("/projects", json={"name": "elsewhere"}).json()
                answer = clients["owner"].put(
                    f"/projects/{project['id']}/members/viewer", json={"role": "viewer"}
                )
                assert answer.status_code == 200, answer.text
                yield Setup(
                    server, clients, served, refused, project["id"], other["id"], work, shas
                )
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _link(s: Setup, who: str = "owner", **body: object) -> httpx.Response:
    payload = {"url": s.served.url_for("demo"), "default_branch": "main", **body}
    return s.clients[who].put(f"/projects/{s.project}/repository", json=payload)


def _secrets_absent(text: str) -> None:
    basic = base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    for secret in (TOKEN, WRONG, basic):
        assert secret not in text


def test_owner_links_viewer_reads_commits_branches_and_files(setup: Setup) -> None:
    s = setup
    linked = _link(s, metrics_files=["metrics.json"], params_files=["params.yaml"])
    assert linked.status_code == 200, linked.text
    assert linked.json()["url"] == s.served.url_for("demo")
    assert linked.json()["kind"] == "http"
    viewer = s.clients["viewer"]
    base = f"/projects/{s.project}/repository"
    got = viewer.get(base).json()
    assert got["default_branch"] == "main" and got["params_files"] == ["params.yaml"]

    branches = viewer.get(f"{base}/branches").json()
    assert [(b["name"], b["sha"]) for b in branches["items"]] == [("main", s.shas[0])]

    commits = viewer.get(f"{base}/commits", params={"limit": 2})
    assert commits.status_code == 200, commits.text
    page = commits.json()
    assert [c["sha"] for c in page["items"]] == s.shas[:2]
    assert page["items"][0]["title"] == "results [skip tunelab]"
    assert page["items"][1]["metrics"] == {"acc": 0.8, "eval.f1": 0.7}
    assert page["items"][1]["author"] == "Tester"
    rest = viewer.get(f"{base}/commits", params={"limit": 2, "cursor": page["next"]}).json()
    assert [c["sha"] for c in rest["items"]] == s.shas[2:] and rest["next"] is None
    assert rest["items"][0]["metrics"] == {}

    file = viewer.get(f"{base}/files/{s.shas[-1]}/params.yaml")
    assert file.status_code == 200, file.text
    assert file.json()["content"] == "lr: 0.1\nlayers: [64, 32]\n"
    assert viewer.get(f"{base}/files/main/metrics.json").json()["commit"] == s.shas[0]
    missing = viewer.get(f"{base}/files/{s.shas[-1]}/metrics.json")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    # Nothing of the credentials in any answer, nor in the mirror's own config.
    for answer in (linked, commits, file):
        _secrets_absent(answer.text)
    _secrets_absent(viewer.get(f"{base}/branches").text)
    mirror = s.server.data_dir / "repos" / f"{s.project}.git"
    _secrets_absent((mirror / "config").read_text())
    assert "extraheader" not in (mirror / "config").read_text().lower()


def test_who_may_link_and_read(setup: Setup) -> None:
    s = setup
    assert _link(s).status_code == 200
    refused = _link(s, "viewer")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert _link(s, "outsider").status_code in (403, 404)
    base = f"/projects/{s.project}/repository"
    for path in (base, f"{base}/branches", f"{base}/commits", f"{base}/files/main/params.yaml"):
        answer = s.clients["outsider"].get(path)
        assert answer.status_code in (403, 404), (path, answer.text)
        assert s.served.url_for("demo") not in answer.text and "params" not in answer.text
    gone = s.clients["viewer"].delete(base)
    assert gone.status_code == 403
    # Another project's owner links theirs; that says nothing of this one.
    other = s.clients["outsider"].get(f"/projects/{s.other_project}/repository")
    assert other.status_code == 404


@pytest.mark.parametrize(
    ("where", "params"),
    [
        ("commits", {"branch": "--upload-pack=touch /tmp/tunelab-pwned"}),
        ("commits", {"branch": "main..HEAD"}),
        ("commits", {"branch": "-c"}),
        ("commits", {"cursor": "not-a-cursor"}),
        ("commits", {"limit": "100000"}),
        ("files/--output=x/params.yaml", {}),
        ("files/main/a/%2e%2e/%2e%2e/etc/passwd", {}),
        ("files/HEAD@%7B1%7D/params.yaml", {}),
    ],
)
def test_hostile_names_are_refused(setup: Setup, where: str, params: dict[str, str]) -> None:
    s = setup
    assert _link(s).status_code == 200
    answer = s.clients["viewer"].get(f"/projects/{s.project}/repository/{where}", params=params)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]["code"] in ("invalid_input", "not_found")
    assert not Path("/tmp/tunelab-pwned").exists()


@pytest.mark.parametrize(
    "url",
    ["--upload-pack=touch /tmp/x", "ext::sh -c id", f"http://{USER}:{TOKEN}@127.0.0.1/demo.git"],
)
def test_hostile_urls_are_refused(setup: Setup, url: str) -> None:
    answer = _link(setup, url=url)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_input"
    _secrets_absent(answer.text)


def test_a_wrong_credential_is_refused_by_the_git_server(setup: Setup) -> None:
    s = setup
    assert _link(s, url=s.refused.url_for("demo")).status_code == 200
    answer = s.clients["viewer"].get(f"/projects/{s.project}/repository/commits")
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "repository_unavailable"
    _secrets_absent(answer.text)
    assert "the-real-one" not in answer.text
    assert (s.refused.requests[-1][2]) == 401
    assert _link(s).status_code == 200  # back to the good one for the other tests


def test_local_path_only_for_admins(setup: Setup) -> None:
    s = setup
    refused = _link(s, url=str(s.work))
    assert refused.status_code == 403, refused.text
    assert "admin" in refused.json()["error"]["message"]
    assert _link(s, "root", url=str(s.work)).status_code == 200
    commits = s.clients["viewer"].get(f"/projects/{s.project}/repository/commits").json()
    assert [c["sha"] for c in commits["items"]] == s.shas
    assert _link(s).status_code == 200


def test_unlink(setup: Setup) -> None:
    s = setup
    assert _link(s).status_code == 200
    base = f"/projects/{s.project}/repository"
    assert s.clients["viewer"].get(f"{base}/branches").status_code == 200
    mirror = s.server.data_dir / "repos" / f"{s.project}.git"
    assert mirror.is_dir()
    assert s.clients["owner"].delete(base).status_code == 204
    assert s.clients["viewer"].get(base).status_code == 404
    assert s.clients["viewer"].get(f"{base}/commits").status_code == 404
    assert not mirror.exists()
    assert s.clients["owner"].delete(base).status_code == 404
