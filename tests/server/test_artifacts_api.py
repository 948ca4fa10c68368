"""Artifacts on a real server process, and what reset and delete do to them and their files.

Files live in a temporary folder the server process shares, named by ``file://`` URIs, or
in the server's own file store (``tunelab://``).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.server.answers import ok
from tests.server.test_lifecycle_api import UNKNOWN, action, conflict, create

DIGEST = "ef" * 32


@pytest.fixture
def project() -> str:
    return f"art-{uuid.uuid4().hex[:12]}"


def artifact(uri: str = "s3://bucket/run/data.csv", **changes: Any) -> dict[str, Any]:
    return {"type": "pandas", "format": "csv", "uri": uri, "size": 3, "sha256": DIGEST, **changes}


def path(task_id: str, name: str) -> str:
    return f"/tasks/{task_id}/artifacts/{quote(name, safe='')}"


def invalid(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_input"


def a_file(folder: Path, name: str) -> tuple[Path, str]:
    """A real file and its ``file://`` URI."""
    file = folder / name
    file.write_bytes(b"abc")
    return file, f"file://{file}"


def test_store_read_replace_and_delete(client: httpx.Client, project: str) -> None:
    task = create(client, project, status="running")
    name = "train data @v2"
    stored = ok(client.put(path(task["id"], name), json=artifact(metadata={"rows": [1, 2]})))
    assert set(stored) == {
        "name",
        "type",
        "format",
        "uri",
        "size",
        "sha256",
        "preview",
        "metadata",
        "created",
    }
    assert (stored["name"], stored["metadata"], stored["preview"]) == (name, {"rows": [1, 2]}, "")
    assert ok(client.get(path(task["id"], name))) == stored
    ok(client.put(path(task["id"], "a"), json=artifact(preview="a,b\n1,2")))
    listed = ok(client.get(f"/tasks/{task['id']}/artifacts"))["artifacts"]
    assert [a["name"] for a in listed] == ["a", name]
    replaced = ok(client.put(path(task["id"], name), json=artifact(size=99)))
    assert replaced["size"] == 99
    assert ok(client.get(f"/tasks/{task['id']}"))["artifacts"][name] == replaced
    # Without delete_file the record goes and the file is not touched.
    answer = ok(client.delete(path(task["id"], name)))
    assert answer == {"deleted": name, "deleted_files": [], "failed_files": []}
    assert client.get(path(task["id"], name)).status_code == 404
    assert list(ok(client.get(f"/tasks/{task['id']}"))["artifacts"]) == ["a"]


def test_delete_file_removes_it_from_storage(
    client: httpx.Client, project: str, tmp_path: Path
) -> None:
    task = create(client, project, status="running")
    file, uri = a_file(tmp_path, "features.parquet")
    ok(client.put(path(task["id"], "features"), json=artifact(uri)))
    answer = ok(client.delete(path(task["id"], "features"), params={"delete_file": "true"}))
    assert answer == {"deleted": "features", "deleted_files": [uri], "failed_files": []}
    assert not file.exists()


def test_a_published_task_keeps_its_artifacts(client: httpx.Client, project: str) -> None:
    task = create(client, project, status="running")
    ok(client.put(path(task["id"], "kept"), json=artifact()))
    ok(client.patch(f"/tasks/{task['id']}", json={"status": "completed"}))
    published = ok(action(client, task["id"], "publish"))
    conflict(
        client.put(path(task["id"], "late"), json=artifact()),
        "cannot edit the outputs of a published task",
    )
    conflict(client.delete(path(task["id"], "kept")), "read-only for good")
    assert ok(client.get(f"/tasks/{task['id']}")) == published


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"type": "t", "format": "f", "uri": "u", "size": 1},
        artifact(extra="field"),
        artifact(size=-1),
        artifact(size="3"),
        artifact(size=1.5),
        artifact(sha256="not-a-digest"),
        artifact(type="t" * 65),
        artifact(uri="u" * 4097),
        artifact(metadata=[1]),
        artifact(preview=None),
    ],
)
def test_bad_bodies_are_400s_and_store_nothing(
    client: httpx.Client, project: str, body: dict[str, Any]
) -> None:
    task = create(client, project, status="running")
    invalid(client.put(path(task["id"], "x"), json=body))
    assert ok(client.get(f"/tasks/{task['id']}/artifacts")) == {"artifacts": []}


def test_nan_metadata_and_bad_names_are_400s(client: httpx.Client, project: str) -> None:
    task = create(client, project, status="running")
    raw = '{"type": "t", "format": "f", "uri": "u", "size": 1, "sha256": "", '
    for value in ("NaN", "Infinity", '{"deep": [-Infinity]}'):
        invalid(
            client.put(
                path(task["id"], "x"),
                content=raw + f'"metadata": {{"v": {value}}}}}',
                headers={"content-type": "application/json"},
            )
        )
    for name in ("tab\there", "nul\x00", "x" * 257):
        invalid(client.put(path(task["id"], name), json=artifact()))
    assert ok(client.get(f"/tasks/{task['id']}"))["artifacts"] == {}


def test_unknown_tasks_and_names_are_404s(client: httpx.Client, project: str) -> None:
    task = create(client, project, status="running")
    for task_id in (UNKNOWN, "not-an-id"):
        assert client.put(path(task_id, "x"), json=artifact()).status_code == 404
        assert client.get(f"/tasks/{task_id}/artifacts").status_code == 404
        assert client.get(path(task_id, "x")).status_code == 404
        assert client.delete(path(task_id, "x")).status_code == 404
    response = client.get(path(task["id"], "missing"))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client.delete(path(task["id"], "missing")).status_code == 404


def test_a_nul_in_an_id_or_a_name_is_refused_before_any_lookup(
    client: httpx.Client, project: str
) -> None:
    task = create(client, project, status="running")
    for where in (path(quote("a\x00b"), "x"), path(task["id"], "nul\x00")):
        for method in ("GET", "PUT", "DELETE"):
            body = artifact() if method == "PUT" else None
            response = client.request(method, where, json=body)
            assert response.status_code == 400, (method, where, response.text)
            assert response.json()["error"]["code"] == "invalid_input"
    assert ok(client.get(f"/tasks/{task['id']}/artifacts")) == {"artifacts": []}


# --- reset and delete -----------------------------------------------------------------------


def record_outputs(client: httpx.Client, task_id: str, tmp_path: Path) -> dict[str, Any]:
    """Artifacts and output models whose files live in ``tmp_path`` and in the server's file
    store, one in a folder (which cannot be deleted as a file) and one at a URI no storage
    back end knows; plus a published model, whose file must survive."""
    files = {name: a_file(tmp_path, name) for name in ("data.csv", "model.pt", "best.pt")}
    key = f"runs/{uuid.uuid4().hex}/log.txt"
    ok(client.put(f"/files/{key}", content=b"log"), 201)
    folder = tmp_path / "a folder"
    folder.mkdir()
    (folder / "inside").write_bytes(b"x")
    ok(client.put(path(task_id, "data"), json=artifact(files["data.csv"][1])))
    ok(client.put(path(task_id, "log"), json=artifact(f"tunelab://{key}")))
    ok(client.put(path(task_id, "folder"), json=artifact(f"file://{folder}")))
    ok(client.put(path(task_id, "odd"), json=artifact("bogus://somewhere/x")))
    ok(
        client.post("/models", json={"name": "m", "task_id": task_id, "uri": files["model.pt"][1]}),
        201,
    )
    best = ok(
        client.post(
            "/models", json={"name": "best", "task_id": task_id, "uri": files["best.pt"][1]}
        ),
        201,
    )
    ok(client.post(f"/models/{best['id']}/publish"))
    return {"files": files, "key": key, "folder": folder, "best": best}


def check_cleanup(client: httpx.Client, answer: dict[str, Any], outputs: dict[str, Any]) -> None:
    files = outputs["files"]
    assert sorted(answer["deleted_files"]) == sorted(
        [files["data.csv"][1], files["model.pt"][1], f"tunelab://{outputs['key']}"]
    )
    failed = {f["uri"]: f["error"] for f in answer["failed_files"]}
    assert set(failed) == {f"file://{outputs['folder']}", "bogus://somewhere/x"}
    assert "unknown scheme" in failed["bogus://somewhere/x"]
    assert str(outputs["folder"]) in failed[f"file://{outputs['folder']}"]
    assert not files["data.csv"][0].exists() and not files["model.pt"][0].exists()
    assert client.get(f"/files/{outputs['key']}").status_code == 404
    assert files["best.pt"][0].exists(), "a published model and its file stay"
    assert outputs["folder"].is_dir()


def test_reset_with_delete_artifacts_deletes_the_files(
    client: httpx.Client, project: str, tmp_path: Path
) -> None:
    task = create(client, project, status="running")
    outputs = record_outputs(client, task["id"], tmp_path)
    ok(client.patch(f"/tasks/{task['id']}", json={"status": "failed"}))
    answer = ok(action(client, task["id"], "reset", delete_artifacts=True))
    # Files that could not be deleted undo nothing: the task is a draft, its records gone.
    assert (answer["status"], answer["artifacts"]) == ("draft", {})
    assert [m["name"] for m in answer["output_models"]] == ["best"]
    check_cleanup(client, answer, outputs)
    again = ok(client.get(f"/tasks/{task['id']}"))
    assert again == {k: v for k, v in answer.items() if k not in ("deleted_files", "failed_files")}


def test_reset_without_delete_artifacts_keeps_the_files(
    client: httpx.Client, project: str, tmp_path: Path
) -> None:
    task = create(client, project, status="running")
    outputs = record_outputs(client, task["id"], tmp_path)
    ok(client.patch(f"/tasks/{task['id']}", json={"status": "completed"}))
    answer = ok(action(client, task["id"], "reset"))
    assert (answer["deleted_files"], answer["failed_files"]) == ([], [])
    assert answer["artifacts"] == {}
    assert all(file.exists() for file, _ in outputs["files"].values())
    assert client.get(f"/files/{outputs['key']}").content == b"log"


def test_delete_with_delete_artifacts_deletes_the_files(
    client: httpx.Client, project: str, tmp_path: Path
) -> None:
    task = create(client, project)
    outputs = record_outputs(client, task["id"], tmp_path)
    answer = ok(client.delete(f"/tasks/{task['id']}", params={"delete_artifacts": "true"}))
    assert answer["deleted"] == task["id"]
    check_cleanup(client, answer, outputs)
    assert client.get(f"/tasks/{task['id']}").status_code == 404
    best = ok(client.get(f"/models/{outputs['best']['id']}"))
    assert (best["published"], best["task_id"]) == (True, None)
