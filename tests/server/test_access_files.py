"""What the server opens and deletes when a record names a file, and for whom, on a real
server asking for login (the access matrix's world, ``tests.server.access_world``).

A record's URI is written by a user: a member may point an artifact or a model at the
server's own database, at another project's file in the server's store, or at any host and
port with ``s3://host:port/...``. What a user relies on:
- the download pages open a file on the server's disk only for an admin, and only where the
  server serves local files (off with login); a ``tunelab://`` key only for an account that
  may read its project; an object store only where the server's admin configured it
  (``[[storage.*]]`` entries, ``TUNELAB_STORAGE_ALLOW``): nothing else is ever connected to;
- deleting a record with its file (artifact, reset, task, model) deletes a file only under
  the same checks, and says which file it left and why in ``failed_files``;
- what is allowed still works: the server's own store, a configured bucket (SeaweedFS);
  an allowed bucket the server has no credentials for is a 4xx that says so.

A tiny HTTP listener on 127.0.0.1 stands for a host the server must never reach; the
server's config file holds credentials for its bucket name, as a careless default would.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.server import access_world as aw
from tests.server.access_world import World
from tests.server.answers import ok
from tests.services import S3_TEST_BUCKET, SeaweedServer

# A bucket name the server holds credentials for (a [[storage.s3]] entry with a bucket and
# no host): such an entry must not make the server sign requests to any host a URI names.
TRAP_BUCKET = "aws-bucket"
TRAP_KEY_ID = "AKIATRAPKEYID0000000"
# Allowed by TUNELAB_STORAGE_ALLOW, with no credentials anywhere.
OPEN_BUCKET = "open-bucket"
TRAP_BODY = b"TRAP-BODY-the-server-fetched-this"
SQLITE_MAGIC = b"SQLite format 3"
HOSTILE = ("local", "foreign-key", "foreign-s3")


class Trap:
    """A plain HTTP listener that answers anything with 200 and remembers who came."""

    def __init__(self) -> None:
        seen: list[str] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append(f"{self.command} {self.path} {self.headers.get('Authorization')}")
                self.send_response(200)
                self.send_header("Content-Length", str(len(TRAP_BODY)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(TRAP_BODY)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Trap:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Setup:
    world: World
    trap: Trap
    s3: SeaweedServer
    api: dict[str, httpx.Client]
    pages: dict[str, httpx.Client]

    @property
    def data_dir(self) -> Path:
        return self.world.server.data_dir


def _config(folder: Path, s3: SeaweedServer) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f'[[storage.s3]]\nhost = "{s3.endpoint}"\nkey = "{s3.key}"\nsecret = "{s3.secret}"\n\n'
        f'[[storage.s3]]\nbucket = "{TRAP_BUCKET}"\nkey = "{TRAP_KEY_ID}"\n'
        'secret = "trap-secret-0123456789"\n'
    )
    return path


def restart(world: World, **env: str | None) -> None:
    """The same server (data, port) started again with ``env`` changed (None: unset)."""
    world.server.stop()
    for name, value in env.items():
        if value is None:
            world.server.env.pop(name, None)
        else:
            world.server.env[name] = value
    world.server.start()


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory,
    s3_server: SeaweedServer,
    server_database: str | None,
) -> Iterator[Setup]:
    """One world per database (SQLite, then a fresh PostgreSQL database)."""
    folder = tmp_path_factory.mktemp("access-files")
    config = _config(folder, s3_server)
    (folder / "data").mkdir()
    with Trap() as trap, aw.running_world(folder / "data", server_database) as world:
        restart(
            world,
            TUNELAB_CONFIG_FILE=str(config),
            TUNELAB_STORAGE_ALLOW=f"s3://127.0.0.1:{trap.port}/{OPEN_BUCKET}",
            AWS_EC2_METADATA_DISABLED="true",  # no wait for a cloud's metadata service
        )
        api = {name: aw.api_client(world, key) for name, key in world.keys.items()}
        pages = {name: aw.session_client(world.url, name) for name in ("root", "owner-b")}
        yield Setup(world, trap, s3_server, api, pages)
        for client in (*api.values(), *pages.values()):
            client.close()


@pytest.fixture
def trap(setup: Setup) -> Iterator[Trap]:
    setup.trap.seen.clear()
    yield setup.trap
    assert setup.trap.seen == [], f"the server connected to {setup.trap.seen}"


# --- helpers --------------------------------------------------------------------------------


def hostile_uri(setup: Setup, kind: str, *, deleting: bool) -> str:
    """A URI owner-b has no business having the server open or delete."""
    if kind == "local":
        if deleting:  # a file of the server's own, not its database: a bug must not wreck it
            bait = setup.data_dir / f"bait-{uuid.uuid4().hex}.txt"
            bait.write_text("the server's own file")
            return bait.as_uri()
        private = setup.data_dir / "tunelab.db"
        if not private.exists():  # on PostgreSQL: a private file of the server's stands in
            private = setup.data_dir / "private.db"
            private.write_bytes(SQLITE_MAGIC + b" the server's private data")
        return private.as_uri()
    if kind == "foreign-key" and deleting:
        # One of team-a's files that no record of team-a names (a named one is kept anyway).
        key = f"{aw.PROJECT_A}/{aw.A_TASK}.{setup.world.task}/artifacts/loose/{uuid.uuid4().hex}"
        put = setup.api["owner-a"].put(f"/api/v1/files/{key}", content=aw.A_FILE_BYTES.encode())
        ok(put, 201)
        return f"tunelab://{key}"
    if kind == "foreign-key":
        return f"tunelab://{setup.world.file_key}"  # team-a's
    # Unique per test: a file another record still names is never deleted anyway.
    return f"s3://127.0.0.1:{setup.trap.port}/{TRAP_BUCKET}/{uuid.uuid4().hex}/secret.bin"


def intact(setup: Setup, uri: str) -> None:
    if uri.startswith("file://"):
        assert Path(uri[len("file://") :]).is_file(), f"{uri} was deleted"
    elif uri.startswith("tunelab://"):
        kept = setup.api["root"].get(f"/api/v1/files/{uri[len('tunelab://') :]}")
        assert kept.status_code == 200 and kept.content == aw.A_FILE_BYTES.encode()


def new_task(client: httpx.Client, project: str, status: str = "completed") -> str:
    body = {"name": f"t-{uuid.uuid4().hex[:8]}", "project": project, "status": status}
    return str(ok(client.post("/api/v1/tasks", json=body), 201)["id"])


def record(uri: str, content: bytes = b"abc") -> dict[str, Any]:
    digest = hashlib.sha256(content).hexdigest()
    return {"type": "file", "format": "bin", "uri": uri, "size": len(content), "sha256": digest}


def put_artifact(client: httpx.Client, task: str, name: str, uri: str) -> None:
    ok(client.put(f"/api/v1/tasks/{task}/artifacts/{quote(name, safe='')}", json=record(uri)))


def new_model(client: httpx.Client, task: str, uri: str) -> str:
    body = {"name": f"m-{uuid.uuid4().hex[:8]}", "task_id": task, "uri": uri}
    return str(ok(client.post("/api/v1/models", json=body), 201)["id"])


def refused_page(answer: httpx.Response) -> None:
    assert 400 <= answer.status_code < 500, f"{answer.status_code} {answer.text[:300]}"
    for secret in (SQLITE_MAGIC, aw.A_FILE_BYTES.encode(), TRAP_BODY):
        assert secret not in answer.content


def refused_file(answer: dict[str, Any], uri: str) -> str:
    """The reason the cleanup gave for leaving ``uri``."""
    assert answer["deleted_files"] == [], answer
    failed = {f["uri"]: f["error"] for f in answer["failed_files"]}
    assert uri in failed, answer
    return failed[uri]


def why(kind: str, setup: Setup) -> str:
    """What a refusal of ``kind`` must say."""
    return {
        "local": "machine that wrote it",
        "foreign-key": "may not",
        "foreign-s3": setup.s3.endpoint,  # which destinations are allowed
    }[kind]


# --- the hostile URIs -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", HOSTILE)
def test_the_artifact_download_page_refuses(setup: Setup, trap: Trap, kind: str) -> None:
    uri = hostile_uri(setup, kind, deleting=False)
    put_artifact(setup.api["owner-b"], setup.world.task_b, f"grab-{kind}", uri)
    answer = setup.pages["owner-b"].get(
        f"/experiments/{setup.world.task_b}/artifacts/grab-{kind}/download"
    )
    refused_page(answer)
    assert why(kind, setup) in answer.text


@pytest.mark.parametrize("kind", HOSTILE)
def test_the_model_download_page_refuses(setup: Setup, trap: Trap, kind: str) -> None:
    uri = hostile_uri(setup, kind, deleting=False)
    model = new_model(setup.api["owner-b"], setup.world.task_b, uri)
    answer = setup.pages["owner-b"].get(f"/models/{model}/download")
    refused_page(answer)
    assert why(kind, setup) in answer.text


@pytest.mark.parametrize("kind", HOSTILE)
def test_deleting_an_artifact_with_its_file_leaves_the_file(
    setup: Setup, trap: Trap, kind: str
) -> None:
    b = setup.api["owner-b"]
    uri = hostile_uri(setup, kind, deleting=True)
    task = new_task(b, aw.PROJECT_B)
    put_artifact(b, task, "doomed", uri)
    answer = ok(b.delete(f"/api/v1/tasks/{task}/artifacts/doomed", params={"delete_file": True}))
    assert why(kind, setup) in refused_file(answer, uri)
    intact(setup, uri)


@pytest.mark.parametrize("kind", HOSTILE)
def test_reset_with_its_artifacts_leaves_the_file(setup: Setup, trap: Trap, kind: str) -> None:
    b = setup.api["owner-b"]
    uri = hostile_uri(setup, kind, deleting=True)
    task = new_task(b, aw.PROJECT_B)
    put_artifact(b, task, "doomed", uri)
    answer = ok(b.post(f"/api/v1/tasks/{task}/reset", json={"delete_artifacts": True}))
    assert answer["status"] == "draft"
    assert why(kind, setup) in refused_file(answer, uri)
    intact(setup, uri)


@pytest.mark.parametrize("kind", HOSTILE)
def test_deleting_a_task_with_its_artifacts_leaves_the_file(
    setup: Setup, trap: Trap, kind: str
) -> None:
    b = setup.api["owner-b"]
    uri = hostile_uri(setup, kind, deleting=True)
    task = new_task(b, aw.PROJECT_B, status="draft")  # only drafts are deleted
    put_artifact(b, task, "doomed", uri)
    answer = ok(b.delete(f"/api/v1/tasks/{task}", params={"delete_artifacts": True}))
    assert why(kind, setup) in refused_file(answer, uri)
    intact(setup, uri)


@pytest.mark.parametrize("kind", HOSTILE)
def test_deleting_a_model_with_its_file_leaves_the_file(
    setup: Setup, trap: Trap, kind: str
) -> None:
    b = setup.api["owner-b"]
    uri = hostile_uri(setup, kind, deleting=True)
    model = new_model(b, setup.world.task_b, uri)
    answer = ok(b.delete(f"/api/v1/models/{model}", params={"delete_file": True}))
    assert why(kind, setup) in refused_file(answer, uri)
    intact(setup, uri)


def test_the_web_delete_action_leaves_a_foreign_file(setup: Setup, trap: Trap) -> None:
    """The pages' reset and delete share the API's cleanup; the toast names the file left."""
    b, web = setup.api["owner-b"], setup.pages["owner-b"]
    uri = hostile_uri(setup, "foreign-key", deleting=True)
    task = new_task(b, aw.PROJECT_B, status="draft")
    put_artifact(b, task, "doomed", uri)
    token = aw.csrf_of(web)
    answer = web.post(
        f"/experiments/{task}/delete",
        data={"delete_artifacts": "on", "csrf_token": token},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert answer.status_code == 200, answer.text[:300]
    assert "could not be deleted" in answer.headers["HX-Trigger"]
    intact(setup, uri)


# --- what is allowed still works ------------------------------------------------------------


def test_an_admin_downloads_a_local_file_only_where_the_server_serves_them(
    setup: Setup, trap: Trap
) -> None:
    local = setup.data_dir / "notes.txt"
    local.write_text("an admin's notes")
    b = setup.api["owner-b"]
    put_artifact(b, setup.world.task_b, "notes", local.as_uri())
    link = f"/experiments/{setup.world.task_b}/artifacts/notes/download"
    # With login the server serves no local file by default, not even to an admin.
    refused_page(setup.pages["root"].get(link))
    restart(setup.world, TUNELAB_SERVE_LOCAL_FILES="on")
    try:
        allowed = setup.pages["root"].get(link)
        assert allowed.status_code == 200 and allowed.content == b"an admin's notes"
        member = setup.pages["owner-b"].get(link)
        refused_page(member)
        assert "only an admin" in member.text and "machine that wrote it" in member.text
    finally:
        restart(setup.world, TUNELAB_SERVE_LOCAL_FILES=None)


def test_the_servers_own_store_still_downloads_and_deletes(setup: Setup, trap: Trap) -> None:
    world, a, b = setup.world, setup.api["owner-a"], setup.api["owner-b"]
    page = aw.session_client(world.url, "viewer-a")
    try:
        got = page.get(f"/experiments/{world.task}/artifacts/{aw.A_ARTIFACT}/download")
        assert got.status_code == 200 and got.content == aw.A_FILE_BYTES.encode()
        got = page.get(f"/models/{world.model}/download")
        assert got.status_code == 200 and got.content == aw.A_FILE_BYTES.encode()
    finally:
        page.close()
    # An artifact's file in its own project's store goes with it.
    task = new_task(a, aw.PROJECT_A)
    key = f"{aw.PROJECT_A}/own.{task}/artifacts/x/own.bin"
    ok(a.put(f"/api/v1/files/{key}", content=b"abc"), 201)
    put_artifact(a, task, "own", f"tunelab://{key}")
    answer = ok(a.delete(f"/api/v1/tasks/{task}/artifacts/own", params={"delete_file": True}))
    assert answer == {"deleted": "own", "deleted_files": [f"tunelab://{key}"], "failed_files": []}
    assert a.get(f"/api/v1/files/{key}").status_code == 404
    # So do the files of a task deleted with its artifacts (their key names the task gone).
    task = new_task(b, aw.PROJECT_B, status="draft")
    key = f"{aw.PROJECT_B}/gone.{task}/artifacts/x/gone.bin"
    ok(b.put(f"/api/v1/files/{key}", content=b"abc"), 201)
    put_artifact(b, task, "gone", f"tunelab://{key}")
    answer = ok(b.delete(f"/api/v1/tasks/{task}", params={"delete_artifacts": True}))
    assert (answer["deleted_files"], answer["failed_files"]) == ([f"tunelab://{key}"], [])
    assert setup.api["root"].get(f"/api/v1/files/{key}").status_code == 404


def test_a_configured_bucket_still_downloads_and_deletes(setup: Setup, trap: Trap) -> None:
    import s3fs

    s3 = setup.s3
    fs = s3fs.S3FileSystem(
        key=s3.key,
        secret=s3.secret,
        endpoint_url=f"http://{s3.endpoint}",
        skip_instance_cache=True,
    )
    path = f"{S3_TEST_BUCKET}/access-files/{uuid.uuid4().hex}/weights.bin"
    fs.pipe_file(path, b"weights in the bucket")
    uri = f"s3://{s3.endpoint}/{path}"
    b, web = setup.api["owner-b"], setup.pages["owner-b"]
    task = new_task(b, aw.PROJECT_B)
    put_artifact(b, task, "weights", uri)
    got = web.get(f"/experiments/{task}/artifacts/weights/download")
    assert got.status_code == 200 and got.content == b"weights in the bucket"
    model = new_model(b, task, uri)
    got = web.get(f"/models/{model}/download")
    assert got.status_code == 200 and got.content == b"weights in the bucket"
    answer = ok(b.delete(f"/api/v1/models/{model}", params={"delete_file": True}))
    assert (answer["deleted_files"], answer["failed_files"]) == ([], [])  # the artifact's too
    answer = ok(b.delete(f"/api/v1/tasks/{task}/artifacts/weights", params={"delete_file": True}))
    assert (answer["deleted_files"], answer["failed_files"]) == ([uri], [])
    assert not fs.exists(path)


def test_an_allowed_bucket_without_credentials_is_a_4xx_that_says_so(
    setup: Setup, trap: Trap
) -> None:
    uri = f"s3://127.0.0.1:{setup.trap.port}/{OPEN_BUCKET}/file.bin"
    b = setup.api["owner-b"]
    put_artifact(b, setup.world.task_b, "open", uri)
    answer = setup.pages["owner-b"].get(
        f"/experiments/{setup.world.task_b}/artifacts/open/download"
    )
    assert answer.status_code == 400, f"{answer.status_code} {answer.text[:300]}"
    assert "no credentials" in answer.text
