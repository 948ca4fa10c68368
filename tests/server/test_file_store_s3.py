"""The server's file store in an object store (``--file-store s3://...``), on the real
SeaweedFS S3 service: two server replicas on one PostgreSQL database share it, with no disk
in common.

What a team relies on:
- an artifact a script uploads through replica A downloads through replica B (the file API,
  byte ranges, the page's download route and the Download link in a browser), is deleted
  through B with its record, and is gone for A and from the bucket;
- the parts of one multi-part upload may reach either replica;
- a large body goes to the bucket as it arrives, and shows under its key only once whole;
  a refused one leaves nothing behind, not even a pending multipart upload;
- clients never see the bucket: no link into it, no credential in an answer or a log;
- a key that tries to leave the store reaches no object; a member cannot reach the store's
  objects by their bucket name, only by their ``tunelab://`` key (checked against the key's
  project);
- the file API's own tests (``test_files_api``, ``test_files_server``) hold on replica A:
  they are collected here again, with ``server`` being replica A.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import s3fs
from playwright.sync_api import Browser

from tests.scripts import run_script, script_env, unique, write_script
from tests.server.answers import ok
from tests.server.test_files_api import (  # noqa: F401 - collected here again, on replica A
    TRAVERSALS,
    _raw,
    test_a_file_cannot_replace_a_folder,
    test_a_matching_sha256_header_is_accepted,
    test_a_put_replaces_and_reads_ranges,
    test_a_sha256_mismatch_stores_nothing,
    test_abort_and_unknown_uploads,
    test_complete_checks_parts_size_and_hash,
    test_keys_that_leave_the_store_are_refused,
    test_multi_part_upload,
)
from tests.services import S3_TEST_BUCKET, SeaweedServer, ServerProcess, postgres_database
from tests.storage.test_files_server import (  # noqa: F401 - collected here again, on replica A
    ctx,
    test_missing_file_and_unreachable_server,
    test_ranged_reads_through_fsspec,
)
from tunelab.domain.access import Principal, UserKind
from tunelab.errors import ConfigError, Forbidden, InvalidInput, NotFound
from tunelab.server import access
from tunelab.server.file_store import ObjectFileStore
from tunelab.server.file_store.local import LocalFileStore
from tunelab.server.settings import ServerSettings
from tunelab.server.uri_access import UriPolicy, require_uri
from tunelab.storage import S3Credentials, StorageCredentials, parse_destination

pytestmark = pytest.mark.postgres

MiB = 1024 * 1024

UPLOADER = """
import sys
from tunelab import Task

task = Task.init(project_name=sys.argv[1], task_name="replicated")
task.upload_artifact("weights", "weights.bin")
print("TASK " + task.id)
"""


@dataclass(frozen=True)
class Replicas:
    a: ServerProcess
    b: ServerProcess
    folder: str  # bucket/prefix of the store, as s3fs names it
    fs: s3fs.S3FileSystem

    def objects(self, under: str = "") -> list[str]:
        """The files in the store's prefix (or under ``under`` in it); some services keep
        emptied folders, which are no files."""
        found = self.fs.find(f"{self.folder}/{under}".rstrip("/"), detail=True)
        return [name for name, info in found.items() if info["type"] == "file"]


@pytest.fixture(scope="module")
def replicas(
    s3_server: SeaweedServer, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    root = tmp_path_factory.mktemp("replicas")
    config = root / "config.toml"
    config.write_text(
        f'[[storage.s3]]\nhost = "{s3_server.endpoint}"\nbucket = "{S3_TEST_BUCKET}"\n'
        f'key = "{s3_server.key}"\nsecret = "{s3_server.secret}"\n'
    )
    folder = f"{S3_TEST_BUCKET}/replicas-{uuid.uuid4().hex[:8]}"
    store = f"s3://{s3_server.endpoint}/{folder}"
    env = {"TUNELAB_CONFIG_FILE": str(config)}
    fs = s3fs.S3FileSystem(
        key=s3_server.key,
        secret=s3_server.secret,
        endpoint_url=f"http://{s3_server.endpoint}",
        skip_instance_cache=True,
        use_listings_cache=False,
    )
    with postgres_database(postgres_url, "files") as url:
        # One replica is told by its command line, the other by its environment.
        a = ServerProcess(root / "a", database_url=url, env=env, args=["--file-store", store])
        b = ServerProcess(root / "b", database_url=url, env={**env, "TUNELAB_FILE_STORE": store})
        a.start(timeout=120)  # one after the other: the first migrates the database
        try:
            b.start(timeout=120)
            try:
                yield Replicas(a, b, folder, fs)
            finally:
                b.stop()
        finally:
            a.stop()
    for replica in (a, b):
        log = replica.log_path.read_text()
        assert "Traceback" not in log and s3_server.secret not in log


@pytest.fixture(scope="module")
def server(replicas: Replicas) -> ServerProcess:
    """Replica A, for the file API's own tests collected in this module."""
    return replicas.a


def _api(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/api/v1", timeout=60)


def test_an_artifact_goes_up_through_one_replica_and_is_served_and_deleted_by_the_other(
    replicas: Replicas, browser: Browser, tmp_path: Path
) -> None:
    data = os.urandom(300_000)
    code = tmp_path / "code"
    write_script(code, UPLOADER)
    (code / "weights.bin").write_bytes(data)
    result = run_script(
        code / "train.py", script_env(replicas.a.url, tmp_path / "home"), unique("replicas")
    )
    assert result.returncode == 0, result.stderr
    task_id = next(x for x in result.stdout.splitlines() if x.startswith("TASK ")).split()[1]

    with _api(replicas.a) as a, _api(replicas.b) as b:
        uri = ok(b.get(f"/tasks/{task_id}/artifacts/weights"))["uri"]
        assert uri.startswith("tunelab://")
        key = uri.removeprefix("tunelab://")
        # In the bucket, under the store's prefix; on neither replica's disk.
        assert replicas.fs.cat_file(f"{replicas.folder}/files/{key}") == data
        for replica in (replicas.a, replicas.b):
            assert [p for p in replica.data_dir.rglob("*") if p.name.startswith("weights")] == []

        got = b.get(f"/files/{quote(key)}")
        assert got.status_code == 200 and got.content == data
        assert S3_TEST_BUCKET not in str(got.headers)  # streamed, never a link to the bucket
        assert got.headers["content-type"] == "application/octet-stream"
        assert got.headers["content-disposition"].startswith("attachment")
        head = b.head(f"/files/{quote(key)}")
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(data)
        assert head.content == b""
        part = b.get(f"/files/{quote(key)}", headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == data[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
        tail = b.get(f"/files/{quote(key)}", headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == data[-10:]
        past = b.get(f"/files/{quote(key)}", headers={"Range": f"bytes={len(data)}-"})
        assert past.status_code == 416
        page = httpx.get(f"{replicas.b.url}/experiments/{task_id}/artifacts/weights/download")
        assert page.status_code == 200 and page.content == data
        assert _downloaded_in_a_browser(browser, replicas.b, task_id, tmp_path) == data

        answer = ok(b.delete(f"/tasks/{task_id}/artifacts/weights?delete_file=true"))
        assert answer["deleted_files"] == [uri] and answer["failed_files"] == []
        assert a.get(f"/files/{quote(key)}").status_code == 404
        assert not replicas.fs.exists(f"{replicas.folder}/files/{key}")


def _downloaded_in_a_browser(
    browser: Browser, server: ServerProcess, task_id: str, tmp_path: Path
) -> bytes:
    """What the Download link of the task's Artifacts tab saves, clicked in Chromium."""
    context = browser.new_context(base_url=server.url, accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(f"/experiments/{task_id}/artifacts")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download").click()
        saved = tmp_path / "downloaded"
        download.value.save_as(saved)
        return saved.read_bytes()
    finally:
        context.close()


def test_the_parts_of_one_upload_may_reach_either_replica(replicas: Replicas) -> None:
    key = f"shared/{uuid.uuid4().hex}/big.bin"
    parts = [os.urandom(1000), os.urandom(2000), b"tail"]
    whole = b"".join(parts)
    with _api(replicas.a) as a, _api(replicas.b) as b:
        upload_id = ok(a.post(f"/files/{key}/uploads"), 201)["upload_id"]
        for client, number in ((b, 2), (a, 1), (b, 3)):
            ok(client.put(f"/uploads/{upload_id}/parts/{number}", content=parts[number - 1]))
        assert a.get(f"/files/{key}").status_code == 404  # nothing visible before complete

        body = {"parts": 3, "size": len(whole), "sha256": _sha(whole)}
        stored = ok(b.post(f"/uploads/{upload_id}/complete", json=body), 201)

        assert stored == {"key": key, "size": len(whole), "sha256": _sha(whole)}
        assert a.get(f"/files/{key}").content == whole
        assert a.post(f"/uploads/{upload_id}/complete", json=body).status_code == 404

        aborted = ok(b.post(f"/files/{key}.2/uploads"), 201)["upload_id"]
        ok(a.put(f"/uploads/{aborted}/parts/1", content=b"x"))
        assert b.delete(f"/uploads/{aborted}").status_code == 204
        assert a.put(f"/uploads/{aborted}/parts/1", content=b"x").status_code == 404
        assert a.get(f"/files/{key}.2").status_code == 404
    # Neither upload left an object behind (the tests collected from test_files_api leave
    # open uploads of their own).
    assert [p for p in replicas.objects() if upload_id in p or aborted in p] == []


def test_a_large_body_goes_to_the_bucket_as_it_arrives(replicas: Replicas) -> None:
    key = f"large/{uuid.uuid4().hex}/big.bin"
    chunk = os.urandom(MiB)
    first, rest = 20, 4
    name = f"{replicas.folder}/files/{key}"
    bucket, _, object_key = name.partition("/")
    while_sending: dict[str, Any] = {}

    def body() -> Iterator[bytes]:
        for _ in range(first):
            yield chunk
        # More than one block has arrived: the server must have sent a part of it to the
        # bucket already, and nothing may show under the key yet.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            uploads = replicas.fs.call_s3(
                "list_multipart_uploads", Bucket=bucket, Prefix=object_key
            ).get("Uploads", [])
            if uploads:
                listed = replicas.fs.call_s3(
                    "list_parts", Bucket=bucket, Key=object_key, UploadId=uploads[0]["UploadId"]
                )
                while_sending["parts"] = len(listed.get("Parts", []))
                if while_sending["parts"]:
                    break
            time.sleep(0.05)
        while_sending["visible"] = replicas.fs.exists(name)
        for _ in range(rest):
            yield chunk

    size = (first + rest) * MiB
    with _api(replicas.a) as a:
        headers = {"Content-Length": str(size)}
        stored = ok(a.put(f"/files/{key}", content=body(), headers=headers), 201)
        assert while_sending == {"parts": 1, "visible": False}
        assert stored["size"] == size and stored["sha256"] == _sha(chunk * (first + rest))
        assert replicas.fs.info(name)["size"] == size
        assert a.delete(f"/files/{key}").status_code == 204


def test_a_refused_large_body_leaves_nothing_behind(replicas: Replicas) -> None:
    key = f"large/{uuid.uuid4().hex}/refused.bin"
    name = f"{replicas.folder}/files/{key}"
    bucket, _, object_key = name.partition("/")
    data = os.urandom(MiB) * 18  # more than one block: parts reach the bucket on the way
    with _api(replicas.a) as a:
        answer = a.put(f"/files/{key}", content=data, headers={"X-Tunelab-Sha256": "0" * 64})
        assert answer.status_code == 400
        assert "nothing was stored" in answer.json()["error"]["message"]
        assert a.get(f"/files/{key}").status_code == 404
    assert not replicas.fs.exists(name)
    pending = replicas.fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=object_key)
    assert pending.get("Uploads", []) == []


def test_empty_files_and_names_of_any_characters(replicas: Replicas) -> None:
    folder = f"odd/{uuid.uuid4().hex}"
    key = f"{folder}/model v1 ü #1 50%.bin"
    with _api(replicas.a) as a, _api(replicas.b) as b:
        ok(a.put(f"/files/{quote(key)}", content=b""), 201)
        empty = b.get(f"/files/{quote(key)}")
        assert empty.status_code == 200 and empty.content == b""
        assert b.head(f"/files/{quote(key)}").headers["content-length"] == "0"
        assert b.get(f"/files/{quote(key)}", headers={"Range": "bytes=0-"}).status_code == 416
        ok(a.put(f"/files/{quote(key)}", content=b"0123456789"), 201)
        assert b.get(f"/files/{quote(key)}", headers={"Range": "bytes=8-"}).content == b"89"
        # Several ranges at once: the whole file, as HTTP allows.
        several = b.get(f"/files/{quote(key)}", headers={"Range": "bytes=0-1,4-5"})
        assert several.status_code == 200 and several.content == b"0123456789"
        assert b.delete(f"/files/{quote(key)}").status_code == 204
        assert a.delete(f"/files/{quote(key)}").status_code == 404
        assert replicas.objects(f"files/{folder}") == []


def test_hostile_keys_reach_no_object(replicas: Replicas) -> None:
    name = f"evil-{uuid.uuid4().hex}"
    for template in TRAVERSALS:
        key = template.format(name=name)
        assert _raw(replicas.b, "PUT", f"/api/v1/files/{key}", b"owned") == 400, key
        assert _raw(replicas.b, "POST", f"/api/v1/files/{key}/uploads") in (400, 405), key
    everything: list[str] = replicas.fs.find(S3_TEST_BUCKET, withdirs=True)
    assert [p for p in everything if name in p] == []


STORE = "s3://127.0.0.1:8333/models/team-files"


def _policy() -> UriPolicy:
    """A server whose file store is ``STORE``, with credentials for its whole bucket."""
    entry = S3Credentials(host="127.0.0.1:8333", bucket="models", key="k", secret="s")
    return UriPolicy(
        local_files=False,
        allow=(),
        credentials=StorageCredentials(s3=(entry,)),
        file_store=STORE,
    )


MEMBER = Principal(user_id="u1", name="bob", kind=UserKind.MEMBER)
ADMIN = Principal(user_id="u0", name="root", kind=UserKind.ADMIN)


@pytest.mark.parametrize(
    "uri",
    [
        f"{STORE}/files/vision/train.abc/artifacts/w.bin",
        f"{STORE}/uploads/0123/1.part",
        "s3://127.0.0.1:8333/models/team-files",
        "s3://other-host:9000/models/team-files/files/x",  # the same bucket by another name
    ],
)
def test_members_reach_the_store_only_by_key(uri: str) -> None:
    with pytest.raises(Forbidden, match="tunelab:// key"):
        require_uri(None, MEMBER, uri, access.READ, _policy())
    with pytest.raises(Forbidden, match="tunelab:// key"):
        require_uri(None, MEMBER, uri, access.WRITE, _policy())


def test_the_rest_of_the_bucket_and_admins_are_as_before() -> None:
    beside = "s3://127.0.0.1:8333/models/team-files-2/x.bin"
    assert require_uri(None, MEMBER, beside, access.READ, _policy()).key == "team-files-2/x.bin"
    inside = f"{STORE}/files/x.bin"
    found = require_uri(None, ADMIN, inside, access.WRITE, _policy())
    assert found.key == "team-files/files/x.bin"


def test_the_file_store_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TUNELAB_FILE_STORE", "s3://127.0.0.1:8333/models/team/")
    assert ServerSettings.from_env(data_dir=tmp_path).file_store == STORE.replace(
        "team-files", "team"
    )
    assert ServerSettings.from_env(data_dir=tmp_path, file_store="/mnt/share/").file_store == (
        "/mnt/share"
    )
    monkeypatch.delenv("TUNELAB_FILE_STORE")
    assert ServerSettings.from_env(data_dir=tmp_path).file_store is None
    for bad in ("relative/folder", "ftp://host/x", "s3://127.0.0.1:8333/models/../x"):
        with pytest.raises(ConfigError, match="TUNELAB_FILE_STORE"):
            ServerSettings.from_env(data_dir=tmp_path, file_store=bad)
    with pytest.raises(ConfigError, match="TUNELAB_FILE_STORE"):
        ServerSettings.from_env(data_dir=tmp_path, file_store="tunelab://x")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_store_keeps_nothing_of_the_files_it_wrote(
    s3_server: SeaweedServer, tmp_path: Path
) -> None:
    """A server writes files for as long as it runs: nothing of each may stay in memory."""
    entry = S3Credentials(host=s3_server.endpoint, key=s3_server.key, secret=s3_server.secret)
    location = parse_destination(
        f"s3://{s3_server.endpoint}/{S3_TEST_BUCKET}/kept-{uuid.uuid4().hex}"
    )
    store = ObjectFileStore(location, StorageCredentials(s3=(entry,)))
    for number in range(3):
        writer = store.writer(f"k/{number}.bin")
        writer.write(b"x" * 100)
        writer.commit()
    refused = store.writer("k/refused.bin")
    refused.write(b"y")
    with pytest.raises(InvalidInput):
        refused.commit("0" * 64)
    assert list(store.fs.transaction.files) == []
    assert store.read("k/2.bin").size == 100


def _write(store: Any, key: str) -> None:
    writer = store.writer(key)
    writer.write(b"data")
    writer.commit()


def test_a_folder_left_half_way_is_dropped_from_either_store(
    s3_server: SeaweedServer, tmp_path: Path
) -> None:
    """Uploads staged for a form that was never submitted go once they are old; the other
    folders, and everything outside the folder asked about, stay."""
    local = LocalFileStore(tmp_path)
    for key in ("staged/p1/old/content", "staged/p1/new/content", "elsewhere/old/content"):
        _write(local, key)
    day_ago = time.time() - 2 * 86400
    for key in ("staged/p1/old/content", "elsewhere/old/content"):
        os.utime(local.path_of(key), (day_ago, day_ago))
    local.drop_stale("staged/p1", 86400)
    local.drop_stale("staged/never-written", 86400)
    assert local.read("staged/p1/new/content") and local.read("elsewhere/old/content")
    with pytest.raises(NotFound):
        local.read("staged/p1/old/content")

    # An object's time is the service's own, in whole seconds: the cutoff falls between
    # the object written first and those written 2 s later.
    entry = S3Credentials(host=s3_server.endpoint, key=s3_server.key, secret=s3_server.secret)
    location = parse_destination(
        f"s3://{s3_server.endpoint}/{S3_TEST_BUCKET}/stale-{uuid.uuid4().hex}"
    )
    objects = ObjectFileStore(location, StorageCredentials(s3=(entry,)))
    _write(objects, "staged/p1/old/content")
    time.sleep(2)
    written = time.time()
    _write(objects, "staged/p1/new/content")
    _write(objects, "elsewhere/old/content")
    objects.drop_stale("staged/p1", time.time() - written + 1.5)
    objects.drop_stale("staged/never-written", 0.1)
    assert objects.read("staged/p1/new/content") and objects.read("elsewhere/old/content")
    with pytest.raises(NotFound):
        objects.read("staged/p1/old/content")
