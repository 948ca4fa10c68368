"""Offline sessions: recorded into a folder, uploaded later as one task, never twice."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import free_port
from tunelab.errors import InvalidInput, NotFound, ServerUnavailable
from tunelab.sdk import session_log
from tunelab.sdk.offline import OfflineClient, sync_session
from tunelab.sdk.reporter import Reporter
from tunelab.sdk.transport import ApiClient

LR = {"value": "0.1", "type": "float", "description": "learning rate"}
OWNER = {"value": "alice", "type": "str", "description": ""}
CONF = {"type": "dictionary", "text": '{"depth": 50}', "description": ""}


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _record_run(folder: Path, project: str, points: int = 1000) -> str:
    """What Task.init and a training loop do in offline mode, through the reporter."""
    offline = OfflineClient(folder)
    task = offline.create_task({"name": "offline run", "project": project, "status": "running"})
    reporter = Reporter(offline, task["id"], spool_path=folder / "unused-spool.jsonl")
    reporter.call("set_hyperparameters", task["id"], {"Args": {"lr": LR}}, replace=False)
    reporter.call("set_configuration", task["id"], {"General": CONF})
    reporter.call("set_user_properties", task["id"], {"owner": OWNER})
    for i in range(points):
        reporter.add_scalar("loss", "train", 1.0 / (i + 1), i)
    reporter.add_console("stdout", "training")
    reporter.add_console("stdout", "done")
    reporter.call("update_task", task["id"], status="completed")
    reporter.close()
    local_id: str = task["id"]
    return local_id


def _project() -> str:
    return f"sdk-offline/{uuid.uuid4().hex[:8]}"


def test_offline_client_answers_from_local_state(tmp_path: Path) -> None:
    offline = OfflineClient(tmp_path / "session")
    task = offline.create_task({"name": "n", "project": "p", "tags": ["a"]})
    assert task["id"].startswith("offline-")
    assert (task["status"], task["project"]["name"], task["tags"]) == ("draft", "p", ["a"])
    offline.update_task(task["id"], comment="c", execution={"branch": "main"})
    offline.update_task(task["id"], execution={"commit": "abc"})
    offline.set_hyperparameters(task["id"], {"Args": {"lr": LR, "bs": LR}})
    offline.set_hyperparameters(task["id"], {"Args": {"bs": None}})
    offline.set_user_properties(task["id"], {"owner": OWNER})
    state = offline.get_task(task["id"])
    assert state["comment"] == "c"
    assert state["execution"] == {"branch": "main", "commit": "abc"}
    assert state["hyperparameters"] == {"Args": {"lr": LR}}
    assert state["user_properties"] == {"owner": OWNER}
    # A folder reopened later knows the same state (times aside: the log does not keep them).
    reopened = OfflineClient(tmp_path / "session").get_task(task["id"])
    times = ("created", "started", "last_update", "completed")
    assert {k: v for k, v in reopened.items() if k not in times} == {
        k: v for k, v in state.items() if k not in times
    }
    with pytest.raises(NotFound):
        offline.update_task("offline-unknown", comment="x")


def test_session_log_lines_have_the_shared_shape(tmp_path: Path) -> None:
    local_id = _record_run(tmp_path / "session", "p", points=10)
    lines = (tmp_path / "session" / "session.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert {tuple(sorted(r)) for r in records} == {("args", "batch_id", "op", "task_id")}
    assert records[0]["op"] == "create_task"
    assert {r["task_id"] for r in records} == {local_id}
    assert [r["op"] for r in records][-1] == "update_task"
    assert all(r["batch_id"] for r in records if r["op"] in ("scalars", "console"))


def test_sync_uploads_one_task_with_everything(client: ApiClient, tmp_path: Path) -> None:
    folder = tmp_path / "session"
    project = _project()
    _record_run(folder, project)

    task_id = sync_session(folder, client)
    task = client.get_task(task_id)
    assert (task["name"], task["project"]["name"]) == ("offline run", project)
    assert task["status"] == "completed"
    assert task["hyperparameters"]["Args"]["lr"] == LR
    assert task["configuration"]["General"] == CONF
    assert task["user_properties"] == {"owner": OWNER}
    data = client.get_scalars(task_id, max_points=0)["metrics"]["loss"]["train"]
    assert data["x"] == list(range(1000))
    assert data["y"] == [1.0 / (i + 1) for i in range(1000)]
    lines = client.get_console(task_id)["lines"]
    assert [line["text"] for line in lines] == ["training", "done"]

    # Again: the same task, nothing stored twice.
    assert sync_session(folder, client) == task_id
    assert client.list_tasks(project=project)["total"] == 1
    assert client.get_metrics(task_id)["metrics"]["loss"]["train"]["count"] == 1000
    assert len(client.get_console(task_id)["lines"]) == 2
    progress = json.loads((folder / "synced.json").read_text())
    assert progress["done_lines"] == len((folder / "session.jsonl").read_text().splitlines())


def test_sync_resumes_after_the_server_was_away(client: ApiClient, tmp_path: Path) -> None:
    folder = tmp_path / "session"
    project = _project()
    local_id = _record_run(folder, project, points=500)
    dead_url = f"http://127.0.0.1:{free_port()}"
    with ApiClient(dead_url, timeout=2) as dead, pytest.raises(ServerUnavailable):
        sync_session(folder, dead)
    assert json.loads((folder / "synced.json").read_text()) == {"done_lines": 0}

    task_id = sync_session(folder, client)
    # The folder goes on recording (reopened); the next sync sends only the new lines.
    offline = OfflineClient(folder)
    offline.update_task(local_id, comment="added later")
    assert sync_session(folder, client) == task_id
    assert client.get_task(task_id)["comment"] == "added later"
    assert client.list_tasks(project=project)["total"] == 1
    assert client.get_metrics(task_id)["metrics"]["loss"]["train"]["count"] == 500


def test_a_line_cut_by_a_crash_is_ignored(client: ApiClient, tmp_path: Path) -> None:
    folder = tmp_path / "session"
    _record_run(folder, _project(), points=10)
    log = folder / "session.jsonl"
    with log.open("ab") as handle:
        handle.write(b'{"op": "scalars", "task_id": "offl')  # the write a kill interrupted
    task_id = sync_session(folder, client)
    assert client.get_metrics(task_id)["metrics"]["loss"]["train"]["count"] == 10
    # Appending after the cut line starts a fresh line, so nothing new is lost.
    local_id = next(session_log.iter_ops(log))[1].task_id
    OfflineClient(folder).update_task(local_id, comment="x")
    assert sync_session(folder, client) == task_id
    assert client.get_task(task_id)["comment"] == "x"


def test_sync_of_nothing_is_an_error(client: ApiClient, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        sync_session(tmp_path / "missing", client)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "session.jsonl").write_text("")
    with pytest.raises(InvalidInput):
        sync_session(tmp_path / "empty", client)


def test_damaged_lines_are_skipped_and_the_rest_is_uploaded(
    client: ApiClient, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Lines of the right form with arguments of the wrong shape, or nested too deep to
    read, ended ``tunelab sync`` with a traceback."""
    folder = tmp_path / "session"
    local_id = _record_run(folder, _project(), points=10)
    log = folder / "session.jsonl"
    lines = log.read_text().splitlines()
    damaged = [
        json.dumps({"op": "update_task", "task_id": local_id, "args": {"fields": "zz"}}),
        json.dumps({"op": "scalars", "task_id": local_id, "args": {"series": 5}}),
        json.dumps({"op": "set_hyperparameters", "task_id": local_id, "args": {}}),
        "[" * 100_000,
    ]
    log.write_text("\n".join([*lines[:2], *damaged, *lines[2:]]) + "\n")
    task_id = sync_session(folder, client)
    err = capfd.readouterr().err
    assert err.count(" skipped") == 4, err
    assert "Traceback" not in err
    assert client.get_metrics(task_id)["metrics"]["loss"]["train"]["count"] == 10
    assert client.get_task(task_id)["status"] == "completed"


def test_an_artifact_line_cannot_upload_a_file_from_outside_the_folder(
    client: ApiClient, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A folder someone handed over, with ``files/weights.bin`` a link to a file of the
    user's: sync would have uploaded that file to the server."""
    folder = tmp_path / "session"
    local_id = _record_run(folder, _project(), points=1)
    secret = tmp_path / "secret.txt"
    secret.write_text("a key of the user's")
    (folder / "files").mkdir(exist_ok=True)
    (folder / "files" / "weights.bin").symlink_to(secret)
    uri = (folder / "files").resolve().as_uri() + "/weights.bin"
    body = {"type": "file", "format": "bin", "uri": uri, "size": 19, "sha256": ""}
    line = {"op": "put_artifact", "task_id": local_id, "args": {"name": "loot", "body": body}}
    with (folder / "session.jsonl").open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    task_id = sync_session(folder, client)
    assert "is not a file of the session folder" in capfd.readouterr().err
    assert "loot" not in client.get_task(task_id)["artifacts"]
