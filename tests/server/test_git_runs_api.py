"""Running a repository commit through the API, on SQLite and PostgreSQL, against a real
server process and a real git server over HTTP with credentials: what the Run form offers at
a commit (parameter files from params.yaml, dvc.yaml and the settings, nested and typed;
which keys a stage lists; the pipeline's data files and the .dvc-tracked ones; the script),
a run with an edited nested value and an uploaded data file (and what the agent writes from
it), refusals naming the key, the upload's limits, who may run, and what a clone keeps."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.accounts import login_server
from tests.fake_forge import FakeForge
from tests.git_server import GitServer
from tests.gitrepo import git, new_repo, write
from tests.server.test_repositories_api import GIT_ENV, TOKEN, USER
from tests.services import ServerProcess
from tunelab.agent.git_run import write_params
from tunelab.domain.git_run import GitRun

PARAMS_YAML = """\
# training settings
train:
  lr: 0.1      # learning rate
  epochs: 10
  layers: [64, 32]
seed: 7
prepare:
  split: 0.2
"""
DVC_YAML = """\
stages:
  prepare:
    cmd: python src/prepare.py data/data.xml
    deps: [src/prepare.py, data/data.xml]
    params: [prepare.split]
    outs: [data/prepared]
  train:
    cmd: python src/train.py
    deps: [data/prepared, src/train.py]
    params:
      - train
      - train.json: [optimizer]
    metrics: [metrics.json]
"""
DATA_DVC = "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 10\n  path: data.xml\n"
NEW_DATA = b"<xml>new data</xml>\n"
REPO = "team/demo"
LIMIT = 256 * 1024  # the server's body limit here: a data file over it is refused


@dataclass
class Setup:
    server: ServerProcess
    clients: dict[str, httpx.Client]
    project: str
    sha: str
    plain_sha: str
    work: Path  # a checkout of ``sha``
    forge: FakeForge  # the repository's forge, for runs on CI


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, server_database: str | None) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("git-runs-api")
    saved_env = {k: os.environ.get(k) for k in GIT_ENV}
    os.environ.update(GIT_ENV)
    try:
        with (
            GitServer(root / "served", user=USER, password=TOKEN) as served,
            FakeForge(kind="github", token="forge-tok", url=served.url) as forge,
        ):
            served.create(REPO)
            work = new_repo(root / "work", {"train.py": "print('plain')\n"})
            plain_sha = git(work, "rev-parse", "HEAD").strip()
            write(work / "params.yaml", PARAMS_YAML)
            write(work / "train.json", json.dumps({"optimizer": "adam", "momentum": 0.9}))
            write(work / "configs" / "extra.toml", "[model]\ndepth = 3\n")
            write(work / "dvc.yaml", DVC_YAML)
            write(work / "data" / "data.xml.dvc", DATA_DVC)
            write(work / "src" / "prepare.py", "")
            git(work, "add", ".")
            git(work, "commit", "-q", "-m", "pipeline")
            sha = git(work, "rev-parse", "HEAD").strip()
            git(work, "push", "-q", served.authed_url(REPO), "main")
            config = root / "config.toml"
            config.write_text(
                f'[[git]]\nhost = "127.0.0.1:{served.port}"\nusername = "{USER}"\n'
                f'token = "{TOKEN}"\n\n[[forge]]\nurl = "{served.url}"\nkind = "github"\n'
                f'api_url = "{forge.api_url}"\ntoken = "{forge.token}"\n'
            )
            env = {"TUNELAB_CONFIG_FILE": str(config), "TUNELAB_MAX_BODY_BYTES": str(LIMIT)}
            kinds = {"root": "admin", "owner": "member", "viewer": "member", "outsider": "member"}
            with login_server(root / "data", kinds, database_url=server_database, env=env) as (
                server,
                clients,
            ):
                project = clients["owner"].post("/projects", json={"name": "gitrun"}).json()
                pid = project["id"]
                assert (
                    clients["owner"]
                    .put(f"/projects/{pid}/members/viewer", json={"role": "viewer"})
                    .is_success
                )
                linked = clients["owner"].put(
                    f"/projects/{pid}/repository",
                    json={"url": served.url_for(REPO), "params_files": ["configs/extra.toml"]},
                )
                assert linked.status_code == 200, linked.text
                yield Setup(server, clients, pid, sha, plain_sha, work, forge)
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _ok(answer: httpx.Response, status: int = 200) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    data: dict[str, object] = answer.json()
    return data


def test_the_form_offers_the_commits_parameters_data_files_and_script(setup: Setup) -> None:
    s = setup
    owner = s.clients["owner"]
    form = _ok(owner.get(f"/projects/{s.project}/git-runs/form", params={"commit": s.sha}))
    files = {f["path"]: f for f in form["params_files"]}  # type: ignore[union-attr]
    assert list(files) == ["params.yaml", "train.json", "configs/extra.toml"]
    params = {p["key"]: p for p in files["params.yaml"]["params"]}
    assert params["train.lr"] == {
        "key": "train.lr", "value": 0.1, "text": "0.1", "type": "float", "hidden": False,
    }  # fmt: skip
    assert params["train.layers"]["type"] == "list" and not params["train.layers"]["hidden"]
    assert params["seed"]["hidden"] and not params["prepare.split"]["hidden"]
    extra = {p["key"]: p for p in files["train.json"]["params"]}
    assert not extra["optimizer"]["hidden"] and extra["momentum"]["hidden"]
    assert all(p["hidden"] for p in files["configs/extra.toml"]["params"])
    assert form["data_files"] == [
        "src/prepare.py", "data/data.xml", "data/prepared", "src/train.py",
    ]  # fmt: skip
    assert "data/data.xml.dvc" in form["files"]  # type: ignore[operator]
    assert form["script"] == "dvc exp run" and form["has_dvc_yaml"] is True
    assert form["suggested_branch"] == f"tunelab/{s.sha[:7]}-1"
    assert form["base_branch"] == "main"

    plain = _ok(owner.get(f"/projects/{s.project}/git-runs/form", params={"commit": s.plain_sha}))
    assert plain["params_files"] == [] and plain["script"] == "" and not plain["has_dvc_yaml"]


def test_a_run_with_an_edit_and_an_uploaded_data_file(setup: Setup) -> None:
    s = setup
    owner = s.clients["owner"]
    base = f"/projects/{s.project}/git-runs"
    upload = _ok(
        owner.put(f"{base}/uploads", params={"name": "../../evil name.xml"}, content=NEW_DATA),
        201,
    )
    assert upload["name"] == "evil_name.xml" and upload["size"] == len(NEW_DATA)
    assert upload["sha256"] == hashlib.sha256(NEW_DATA).hexdigest()
    body = {
        "commit": s.sha[:10],
        "params": {"params.yaml": {"train.lr": "0.01"}, "train.json": {"optimizer": "sgd"}},
        "data_files": [{"path": "data/data.xml", "upload": upload["upload"]}],
        "commit_message": "Lower the learning rate",
        "commit_description": "lr 0.1 -> 0.01",
        "branch": f"tunelab/{s.sha[:7]}-1",
        "queue": "gpu",
    }
    task = _ok(owner.post(base, json=body), 201)
    assert task["name"] == "Lower the learning rate" and task["type"] == "training"
    assert task["status"] == "queued" and task["queue"] == "gpu"
    execution = task["execution"]
    assert execution["commit"] == s.sha and execution["branch"] == "main"  # type: ignore[index]
    assert execution["repository"].endswith(f"/{REPO}.git")  # type: ignore[index]
    hyper = task["hyperparameters"]
    assert sorted(hyper) == ["configs/extra.toml", "params.yaml", "train.json"]  # type: ignore[arg-type]
    assert hyper["params.yaml"]["train.lr"] == {  # type: ignore[index]
        "value": "0.01", "type": "float", "description": "",
    }  # fmt: skip
    assert hyper["params.yaml"]["train.epochs"]["value"] == "10"  # type: ignore[index]
    assert hyper["params.yaml"]["train.layers"]["value"] == "[64, 32]"  # type: ignore[index]
    assert hyper["train.json"]["optimizer"]["value"] == "sgd"  # type: ignore[index]
    assert hyper["configs/extra.toml"]["model.depth"]["type"] == "int"  # type: ignore[index]
    run = task["git_run"]
    assert run["params_files"] == ["params.yaml", "train.json", "configs/extra.toml"]  # type: ignore[index]
    assert run["script"] == "dvc exp run" and run["runs_on"] == "queue"  # type: ignore[index]
    assert run["base_branch"] == "main" and run["pull_request"] is True  # type: ignore[index]
    assert run["branch"] == f"tunelab/{s.sha[:7]}-1"  # type: ignore[index]
    assert run["commit_description"] == "lr 0.1 -> 0.01"  # type: ignore[index]
    assert run["results"]["state"] == ""  # type: ignore[index]
    (data,) = run["data_files"]  # type: ignore[index]
    assert data["path"] == "data/data.xml" and data["source"] == "upload"
    assert data["sha256"] == upload["sha256"] and data["size"] == len(NEW_DATA)
    assert data["uri"].startswith("tunelab://gitrun/") and task["id"] in data["uri"]
    # The content lies in the task's folder: its project's members read it there.
    key = data["uri"].removeprefix("tunelab://")
    assert s.clients["viewer"].get(f"/files/{key}").content == NEW_DATA
    assert s.clients["outsider"].get(f"/files/{key}").status_code == 403
    # An upload is used once.
    again = owner.post(base, json={**body, "branch": ""})
    assert again.status_code == 404 and "upload" in again.json()["error"]["message"]
    # The next suggestion skips the branch this run chose.
    form = _ok(owner.get(f"{base}/form", params={"commit": s.sha}))
    assert form["suggested_branch"] == f"tunelab/{s.sha[:7]}-2"

    # What the agent makes of the record: the edits written into the files, comments kept.
    checkout = Path(shutil.copytree(s.work, s.work.parent / "checkout"))
    written = write_params(checkout, GitRun.from_dict(run), hyper, lambda line: None)
    assert written == ["params.yaml", "train.json"]
    lines = (checkout / "params.yaml").read_text().splitlines()
    assert lines[0] == "# training settings"
    assert any("lr: 0.01" in line and "# learning rate" in line for line in lines)
    assert json.loads((checkout / "train.json").read_text())["optimizer"] == "sgd"

    # An exported task imports with its record; a clone copies it (without results).
    imported = _ok(
        owner.post("/tasks", json={"name": "imported", "project": "gitrun", "git_run": run}), 201
    )
    assert imported["git_run"] == run
    clone = _ok(owner.post(f"/tasks/{task['id']}/clone", json={}), 201)
    assert clone["git_run"] == run and clone["status"] == "draft"
    assert clone["hyperparameters"] == hyper


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"params.yaml": {"train.lr": "fast"}}, "train.lr"),
        ({"params.yaml": {"train.epochs": 2.5}}, "train.epochs"),
        ({"params.yaml": {"train.nope": 1}}, "train.nope"),
        ({"missing.yaml": {"a": 1}}, "missing.yaml"),
    ],
)
def test_unknown_keys_and_wrong_types_are_refused_by_name(
    setup: Setup, params: dict[str, object], key: str
) -> None:
    s = setup
    answer = s.clients["owner"].post(
        f"/projects/{s.project}/git-runs", json={"commit": s.sha, "params": params}
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input" and key in error["message"]


def test_bad_branches_paths_and_who_may_run(setup: Setup) -> None:
    s = setup
    owner = s.clients["owner"]
    base = f"/projects/{s.project}/git-runs"
    for body in (
        {"commit": s.sha, "branch": "--upload-pack=x"},
        {"commit": s.sha, "branch": "main..x"},
        {"commit": s.sha, "data_files": [{"path": "../etc/passwd", "upload": "0" * 32}]},
        {"commit": s.sha, "data_files": [{"path": "nowhere.csv", "upload": "0" * 32}]},
        {"commit": s.sha, "data_files": [{"path": "data/data.xml", "upload": "x/../y"}]},
        {"commit": s.sha, "unknown": 1},
    ):
        answer = owner.post(base, json=body)
        assert answer.status_code == 400, (body, answer.text)
    too_big = owner.put(f"{base}/uploads", params={"name": "big.bin"}, content=b"x" * (LIMIT + 1))
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["error"]["code"] == "payload_too_large"
    viewer, outsider = s.clients["viewer"], s.clients["outsider"]
    assert viewer.post(base, json={"commit": s.sha}).status_code == 403
    assert viewer.put(f"{base}/uploads", content=b"x").status_code == 403
    assert outsider.get(f"{base}/form", params={"commit": s.sha}).status_code == 403
    assert viewer.get(f"{base}/form", params={"commit": s.sha}).status_code == 200
    draft = _ok(owner.post(base, json={"commit": s.sha, "draft": True}), 201)
    assert draft["status"] == "draft" and draft["name"] == f"run from {s.sha[:7]}"
    assert draft["git_run"]["branch"] == "main" and not draft["git_run"]["pull_request"]  # type: ignore[index]
    edited = {**draft["git_run"], "script": "make train"}  # type: ignore[dict-item]
    patched = _ok(owner.patch(f"/tasks/{draft['id']}", json={"git_run": edited}))
    assert patched["git_run"]["script"] == "make train"  # type: ignore[index]


def test_a_run_on_ci_asks_the_forge_to_start_the_workflow(setup: Setup) -> None:
    s = setup
    body = {"commit": s.sha, "runs_on": "ci", "commit_message": "On CI"}
    task = _ok(s.clients["owner"].post(f"/projects/{s.project}/git-runs", json=body), 201)
    assert task["status"] == "draft" and task["git_run"]["runs_on"] == "ci"  # type: ignore[index]
    (dispatch,) = [r for r in s.forge.requests if r.path.endswith("/dispatches")]
    assert dispatch.path == f"/repos/{REPO}/actions/workflows/tunelab.yml/dispatches"
    assert dispatch.json == {"ref": "main", "inputs": {"task_id": task["id"]}}


def test_an_upload_no_run_used_goes_once_it_is_a_day_old(setup: Setup) -> None:
    s = setup
    owner = s.clients["owner"]
    base = f"/projects/{s.project}/git-runs"
    left = _ok(owner.put(f"{base}/uploads", params={"name": "a.xml"}, content=b"a"), 201)
    staged = s.server.data_dir / "files" / "git-run-uploads" / s.project / str(left["upload"])
    assert (staged / "content").is_file()
    day_ago = time.time() - 2 * 86400
    os.utime(staged / "content", (day_ago, day_ago))
    fresh = _ok(owner.put(f"{base}/uploads", params={"name": "b.xml"}, content=b"b"), 201)
    assert not staged.exists()
    kept = s.server.data_dir / "files" / "git-run-uploads" / s.project / str(fresh["upload"])
    assert (kept / "content").read_bytes() == b"b"
    body = {"commit": s.sha, "draft": True, "commit_message": "late"}
    late = owner.post(
        base, json={**body, "data_files": [{"path": "data/data.xml", "upload": left["upload"]}]}
    )
    assert late.status_code == 404 and "no upload" in late.text, late.text
