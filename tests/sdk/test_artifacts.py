"""Artifacts through the SDK against a real server: a script uploads objects of every kind,
another process gets them back, equal, from whichever destination holds them."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tunelab import Task
from tunelab.errors import InvalidInput, NotFound, StorageError
from tunelab.sdk.transport import ApiClient

UPLOADER = """
import json, sys
import numpy as np
import pandas as pd
from PIL import Image
from tunelab import Task

class Point:                       # pickled: no other format knows it
    def __init__(self, x): self.x = x

task = Task.init(project_name=sys.argv[1], task_name="make", output_uri=sys.argv[2] or None)
frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": ["x", "y", "z"]})
task.upload_artifact("features", frame, metadata={"rows": 3})
task.upload_artifact("stats", {"mean": 1.5, "labels": ["x", "y"]})
task.upload_artifact("weights", np.arange(12, dtype="float32").reshape(3, 4))
task.upload_artifact("notes", "notes.txt")
task.upload_artifact("data_dir", "data")
task.upload_artifact("picture", Image.new("RGB", (4, 3), (255, 0, 0)))
task.upload_artifact("stats", {"mean": 2.5, "labels": ["x", "y", "z"]})   # replaces
task.upload_artifact("point", Point(7))
print("TASK " + task.id)
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _run_uploader(api_url: str, tmp_path: Path, project: str, output_uri: str = "") -> str:
    code = tmp_path / "code"
    write_script(code, UPLOADER)
    (code / "notes.txt").write_text("first run\n")
    (code / "data").mkdir()
    (code / "data" / "a.csv").write_text("x\n1\n")
    (code / "data" / "sub").mkdir()
    (code / "data" / "sub" / "b.txt").write_text("b")
    env = script_env(api_url, tmp_path / "home")
    result = run_script(code / "train.py", env, project, output_uri)
    assert result.returncode == 0, result.stderr
    return next(x for x in result.stdout.splitlines() if x.startswith("TASK ")).split()[1]


@pytest.mark.parametrize("where", ["server store", "shared folder"])
def test_every_kind_comes_back_equal(
    where: str, api_url: str, client: ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = tmp_path / "share"
    output_uri = share.as_uri() if where == "shared folder" else ""
    task_id = _run_uploader(api_url, tmp_path, unique("artifacts"), output_uri)
    monkeypatch.setenv("HOME", str(tmp_path / "reader-home"))  # a cold download cache

    artifacts = Task.get_task(task_id=task_id).artifacts
    assert sorted(artifacts) == [
        "data_dir", "features", "notes", "picture", "point", "stats", "weights"
    ]  # fmt: skip
    frame = artifacts["features"].get()
    assert frame.equals(pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": list("xyz")}))
    assert artifacts["features"].metadata["rows"] == 3
    assert "3" in artifacts["features"].preview and "a" in artifacts["features"].preview
    assert artifacts["stats"].get() == {"mean": 2.5, "labels": ["x", "y", "z"]}
    weights = artifacts["weights"].get()
    assert weights.dtype == np.float32 and weights.tolist()[2][3] == 11.0
    assert "(3, 4)" in artifacts["weights"].preview
    assert artifacts["notes"].get().read_text() == "first run\n"
    folder = artifacts["data_dir"].get()
    assert (folder / "a.csv").read_text() == "x\n1\n" and (folder / "sub" / "b.txt").exists()
    picture = artifacts["picture"].get()
    assert picture.size == (4, 3) and picture.getpixel((0, 0)) == (255, 0, 0)
    assert artifacts["point"].metadata["serialization"] == "pickle"

    for artifact in artifacts.values():  # every stored file has its true size and hash
        local = artifact.get_local_copy(extract_archive=False)
        assert local.stat().st_size == artifact.size
        assert hashlib.sha256(local.read_bytes()).hexdigest() == artifact.hash
    if where == "shared folder":
        assert all(a.url.startswith(share.as_uri()) for a in artifacts.values())
        stored = [p for p in share.rglob("*") if p.is_file()]
        assert len(stored) == 7  # the replaced stats went to the same key
    else:
        assert all(a.url.startswith("tunelab://") for a in artifacts.values())


def test_get_task_by_name_gives_the_newest_archived_or_not_as_asked(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("by-name")
    older = _run_uploader(api_url, tmp_path / "one", project)
    newer = _run_uploader(api_url, tmp_path / "two", project)
    assert Task.get_task(project_name=project, task_name="make").id == newer
    client.archive_task(newer)
    # As in ClearML, archived tasks count unless allow_archived=False.
    assert Task.get_task(project_name=project, task_name="make").id == newer
    found = Task.get_task(project_name=project, task_name="make", allow_archived=False)
    assert found.id == older
    assert found.artifacts["stats"].get()["mean"] == 2.5
    with pytest.raises(NotFound):
        Task.get_task(project_name=project, task_name="nothing like it")


def test_get_tasks_by_tag(api_url: str, client: ApiClient) -> None:
    project = unique("tagged")
    wanted = client.create_task({"name": "a", "project": project, "tags": ["gold", "v2"]})
    client.create_task({"name": "b", "project": project, "tags": ["v2"]})
    found = Task.get_tasks(project_name=project, tags=["gold"])
    assert [t.id for t in found] == [wanted["id"]]


def test_a_download_is_cached_and_checked_against_its_hash(
    api_url: str, client: ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = _run_uploader(api_url, tmp_path, unique("cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "reader"))
    notes = Task.get_task(task_id=task_id).artifacts["notes"]
    first = notes.get_local_copy()
    assert notes.get_local_copy() == first  # from the cache
    record = client.get_artifact(task_id, "notes")
    del record["name"], record["created"]
    client.put_artifact(task_id, "notes", {**record, "sha256": "0" * 64})  # a lying record
    lying = Task.get_task(task_id=task_id).artifacts["notes"]
    with pytest.raises(StorageError, match="sha256"):
        lying.get_local_copy()


def test_bad_artifact_input_is_refused_before_anything_is_sent(
    api_url: str, tmp_path: Path
) -> None:
    task = Task.get_task(task_id=_run_uploader(api_url, tmp_path, unique("bad")))
    with pytest.raises(InvalidInput, match="no file or folder"):
        task.upload_artifact("missing", str(tmp_path / "not-there.csv"))
    with pytest.raises(InvalidInput, match="name"):
        task.upload_artifact("a/b", {"x": 1})
    with pytest.raises(InvalidInput, match="metadata"):
        task.upload_artifact("m", {"x": 1}, metadata={"f": object()})
    assert "missing" not in task.artifacts


LARGE = """
import sys
from tunelab import Task
task = Task.init(project_name=sys.argv[1], task_name="large")
with open("blob.bin", "wb") as f:
    f.write(bytes(range(256)) * (40 * 4096))     # 40 MB
task.upload_artifact("blob", "blob.bin")
print("TASK " + task.id)
"""


def test_a_large_upload_shows_progress_on_the_console(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "code", LARGE)
    result = run_script(script, script_env(api_url, tmp_path), unique("large"), timeout=120)
    assert result.returncode == 0, result.stderr
    task_id = next(x for x in result.stdout.splitlines() if x.startswith("TASK ")).split()[1]
    lines = [x for x in result.stderr.splitlines() if "uploading artifact 'blob'" in x]
    assert len(lines) >= 5 and lines[-1].endswith("(100%)"), result.stderr
    task = client.get_task(task_id)
    assert task["status"] == "completed"
    assert task["artifacts"]["blob"]["size"] == 40 * 4096 * 256
    console = "\n".join(x["text"] for x in client.get_console(task_id, limit=1000)["lines"])
    assert "uploading artifact 'blob'" in console  # the console capture has it too


def test_an_upload_that_fails_does_not_fail_the_run(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the destination folder should be")
    script = write_script(
        tmp_path / "code",
        """
        import sys
        from tunelab import Task
        task = Task.init(project_name=sys.argv[1], task_name="blocked", output_uri=sys.argv[2])
        task.upload_artifact("x", {"a": 1})
        print("TASK " + task.id)
        """,
    )
    result = run_script(script, script_env(api_url, tmp_path), unique("blocked"), blocked.as_uri())
    assert result.returncode == 0, result.stderr
    assert "upload of artifact 'x' failed" in result.stderr
    task_id = next(x for x in result.stdout.splitlines() if x.startswith("TASK ")).split()[1]
    task = client.get_task(task_id)
    assert task["status"] == "completed" and task["artifacts"] == {}


OFFLINE = """
from tunelab import Task
task = Task.init(project_name="offline-artifacts", task_name="away")
task.upload_artifact("stats", {"mean": 0.5})
task.upload_artifact("notes", "notes.txt")
"""


def test_an_offline_run_keeps_its_artifacts_until_sync_uploads_them(
    api_url: str, client: ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = write_script(tmp_path / "code", OFFLINE)
    (tmp_path / "code" / "notes.txt").write_text("written offline\n")
    env = script_env(api_url, tmp_path / "home", TUNELAB_OFFLINE="1")
    result = run_script(script, env)
    assert result.returncode == 0, result.stderr
    folder = Path(result.stderr.split("offline session recorded in ")[1].split(";")[0])
    assert len([p for p in (folder / "files").rglob("*") if p.is_file()]) == 2

    synced = subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", "sync", str(folder)],
        env=script_env(api_url, tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert synced.returncode == 0, synced.stderr
    (task,) = client.list_tasks(project="offline-artifacts")["items"]
    monkeypatch.setenv("HOME", str(tmp_path / "reader"))
    artifacts = Task.get_task(task_id=task["id"]).artifacts
    assert all(a.url.startswith("tunelab://") for a in artifacts.values())
    assert artifacts["stats"].get() == {"mean": 0.5}
    assert artifacts["notes"].get().read_text() == "written offline\n"
