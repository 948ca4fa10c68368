"""The background sender against real server processes: every point arrives exactly once,
through outages, restarts, retries and a killed program."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from array import array
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.services import ServerProcess, free_port
from tests.waiting import wait_for
from tunelab.domain.scalar_wire import pack_floats, pack_ints
from tunelab.sdk import capture_warnings, session_log
from tunelab.sdk.offline import sync_session
from tunelab.sdk.reporter import Reporter
from tunelab.sdk.session_log import Op
from tunelab.sdk.transport import ApiClient


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    # As the SDK's run does: the running task writes its own inputs.
    with ApiClient(api_url, as_run=True) as api:
        yield api


def _new_task(client: ApiClient) -> str:
    project = f"sdk-reporter/{uuid.uuid4().hex[:8]}"
    task_id: str = client.create_task({"name": "run", "project": project, "status": "running"})[
        "id"
    ]
    return task_id


def _spooled_points(path: Path) -> int:
    return sum(
        len(base64.b64decode(series["iterations"])) // 8
        for _, op in session_log.iter_ops(path)
        if op.op == "scalars"
        for series in op.args["series"]
    )


def _series(client: ApiClient, task_id: str, metric: str, variant: str) -> dict[str, list[float]]:
    data = client.get_scalars(task_id, max_points=0)["metrics"][metric][variant]
    assert data["total"] == len(data["x"])
    return {"x": data["x"], "y": data["y"]}


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_200k_points_arrive_exactly_once(
    client: ApiClient, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    task_id = _new_task(client)
    spool = tmp_path / "spool.jsonl"
    # Batches smaller than a flush's worth, so series are split across batches.
    reporter = Reporter(
        client, task_id, spool_path=spool, flush_interval=0.2, max_batch_points=30_000
    )
    for i in range(100_000):
        reporter.add_scalar("loss", "train", 1.0 / (i + 1), i)
        reporter.add_scalar("accuracy", "val", i / 100_000, i)
    reporter.add_console("stdout", "epoch done")
    assert reporter.flush(timeout=60)
    assert reporter.flush(timeout=0)  # nothing pending: True at once

    metrics = client.get_metrics(task_id)["metrics"]
    assert metrics["loss"]["train"]["count"] == 100_000
    assert metrics["loss"]["train"]["last"] == 1.0 / 100_000
    assert metrics["accuracy"]["val"]["count"] == 100_000
    assert metrics["accuracy"]["val"]["max_iter"] == 99_999
    loss = _series(client, task_id, "loss", "train")
    assert loss["x"] == list(range(100_000))
    assert loss["y"] == [1.0 / (i + 1) for i in range(100_000)]
    assert _series(client, task_id, "accuracy", "val")["x"] == list(range(100_000))
    assert [line["text"] for line in client.get_console(task_id)["lines"]] == ["epoch done"]

    reporter.close()
    assert not spool.exists()
    assert capfd.readouterr().err == ""


class _Recording:
    """The real client, noting the writes it makes in order; each scalar batch waits 20 ms
    first, as a busy server would, so the sender cuts and packs the next points while a
    batch is on the wire."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        self.writes: list[tuple[Any, ...]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def post_scalars(self, task_id: str, batch: Mapping[str, Any]) -> dict[str, Any]:
        time.sleep(0.02)
        answer = self._client.post_scalars(task_id, batch)
        iterations = [i for s in batch["series"] for i in array("q", s["iterations"])]
        self.writes.append(("scalars", min(iterations), max(iterations), len(iterations)))
        return answer

    def update_task(self, task_id: str, **fields: Any) -> dict[str, Any]:
        self.writes.append(("update_task", fields["comment"]))
        return self._client.update_task(task_id, **fields)


def test_points_packed_while_a_batch_is_on_the_wire_keep_their_place(
    client: ApiClient, tmp_path: Path
) -> None:
    task_id = _new_task(client)
    recording = _Recording(client)
    reporter = Reporter(
        recording, task_id, spool_path=tmp_path / "spool.jsonl", max_batch_points=10_000
    )

    def report(first: int, last: int) -> None:
        # Paced, so that points keep arriving while each batch is on the wire.
        for start in range(first, last, 1000):
            for i in range(start, start + 1000):
                reporter.add_scalar("loss", "train", i / 2, i)
            time.sleep(0.005)

    report(0, 60_000)
    reporter.call("update_task", task_id, comment="middle")
    report(60_000, 120_000)
    reporter.call("update_task", task_id, comment="end")
    reporter.close()

    middle = recording.writes.index(("update_task", "middle"))
    assert recording.writes[-1] == ("update_task", "end")
    before, after = recording.writes[:middle], recording.writes[middle + 1 : -1]
    assert all(w[0] == "scalars" and w[2] < 60_000 for w in before)
    assert all(w[0] == "scalars" and w[1] >= 60_000 for w in after)
    assert sum(w[3] for w in before) == sum(w[3] for w in after) == 60_000
    assert max(w[3] for w in before + after) <= 10_000
    series = _series(client, task_id, "loss", "train")
    assert series["x"] == list(range(120_000))
    assert client.get_task(task_id)["comment"] == "end"


def test_a_flush_returns_while_another_thread_keeps_reporting(
    client: ApiClient, tmp_path: Path
) -> None:
    task_id = _new_task(client)
    reporter = Reporter(
        client, task_id, spool_path=tmp_path / "spool.jsonl", max_batch_points=5_000
    )
    stop = threading.Event()

    def keep_reporting() -> None:
        i = 0
        while not stop.is_set():
            reporter.add_scalar("loss", "busy", 0.5, i)
            i += 1

    busy = threading.Thread(target=keep_reporting)
    busy.start()
    try:
        for i in range(100):
            reporter.add_scalar("loss", "main", i, i)
        # The sender never runs dry here: the flush covers what came before it, not after.
        assert reporter.flush(timeout=30)
        assert client.get_metrics(task_id)["metrics"]["loss"]["main"]["count"] == 100
    finally:
        stop.set()
        busy.join()
    reporter.close()
    assert client.get_metrics(task_id)["metrics"]["loss"]["busy"]["count"] > 0


def test_calls_keep_their_order_and_their_values(client: ApiClient, tmp_path: Path) -> None:
    task_id = _new_task(client)
    reporter = Reporter(client, task_id, spool_path=tmp_path / "spool.jsonl", flush_interval=0.1)
    params = {"Args": {"lr": {"value": "0.1", "type": "float", "description": ""}}}
    reporter.call("set_hyperparameters", task_id, params, replace=True)
    params["Args"]["lr"]["value"] = "changed after the call"
    reporter.call("update_task", task_id, comment="first")
    reporter.add_scalar("loss", "train", 0.5, 0)
    reporter.call("update_task", task_id, comment="second")
    owner = {"value": "alice", "type": "str", "description": ""}
    reporter.call("set_user_properties", task_id, {"owner": owner, "team": owner})
    reporter.call("set_user_properties", task_id, {"team": None})
    reporter.close()
    task = client.get_task(task_id)
    assert task["hyperparameters"]["Args"]["lr"]["value"] == "0.1"
    assert task["comment"] == "second"
    assert task["user_properties"] == {"owner": owner}
    assert client.get_metrics(task_id)["metrics"]["loss"]["train"]["count"] == 1


def test_bad_calls_fail_in_the_caller(client: ApiClient, tmp_path: Path) -> None:
    reporter = Reporter(client, _new_task(client), spool_path=tmp_path / "spool.jsonl")
    with pytest.raises(ValueError, match="cannot queue"):
        reporter.call("delete_everything", "id")
    with pytest.raises(TypeError):
        reporter.call("update_task", "id", "positional")
    with pytest.raises(ValueError, match="stream"):
        reporter.add_console("stdnothing", "text")
    reporter.close()
    with pytest.raises(RuntimeError, match="closed"):
        reporter.call("update_task", "id", comment="late")


def test_odd_names_and_text_never_cost_the_data_sent_with_them(
    client: ApiClient, tmp_path: Path
) -> None:
    """A NUL or half a surrogate pair in a series name, a parameter or a console line, or a
    series name the store cannot hold, used to make the whole batch or call fail: every
    other series, line and parameter sent with it was lost."""
    task_id = _new_task(client)
    recorded: list[dict[str, Any]] = []
    capture_warnings.connect(recorded.append)
    reporter = Reporter(client, task_id, spool_path=tmp_path / "spool.jsonl", flush_interval=0.1)
    try:
        reporter.add_scalar("loss", "train", 1.0, 0)
        reporter.add_scalar("loss\x00", "train", 2.0, 0)
        reporter.add_scalar("loss", "file \udcff", 3.0, 0)  # a name decoded surrogateescape
        reporter.add_scalar("x" * 513, "train", 4.0, 0)
        reporter.add_scalar("", "train", 5.0, 0)
        reporter.add_console("stdout", "read \udcff")
        reporter.add_console("stdout", "plain")
        properties = {"p\x00": {"value": "v\ud800"}, "owner": {"value": "me"}}
        reporter.call("set_user_properties", task_id, properties)
        assert reporter.flush(timeout=30)
    finally:
        reporter.close()
        capture_warnings.disconnect()
    metrics = client.get_scalars(task_id, max_points=0)["metrics"]
    assert {(m, v) for m in metrics for v in metrics[m]} == {
        ("loss", "train"),
        ("loss\ufffd", "train"),
        ("loss", "file \ufffd"),
    }
    lines = [line["text"] for line in client.get_console(task_id)["lines"]]
    assert lines == ["read \ufffd", "plain"]
    assert client.get_task(task_id)["user_properties"] == {
        "p\ufffd": {"value": "v\ufffd", "type": "str", "description": ""},
        "owner": {"value": "me", "type": "str", "description": ""},
    }
    # The two names still refused are capture warnings, not a failed batch.
    reasons = sorted(str(w["reason"]) for w in recorded)
    assert reasons == [
        "their title name is empty; their points are dropped",
        "their title name is longer than 512 characters; their points are dropped",
    ]


def test_refused_data_is_dropped_with_a_warning(
    client: ApiClient, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    task_id = _new_task(client)
    spool = tmp_path / "spool.jsonl"
    reporter = Reporter(client, task_id, spool_path=spool, flush_interval=0.1)
    reporter.call("update_task", "0" * 32, comment="no such task")  # 404: dropped
    reporter.add_scalar("loss", "train", None, 0)  # type: ignore[arg-type]  # not a number
    reporter.add_scalar("loss", "train", 0.5, 1)
    reporter.add_scalar("loss", "train", 0.25, 2.0)  # type: ignore[arg-type]  # a whole float
    assert reporter.flush(timeout=30)
    err = capfd.readouterr().err
    assert "update_task of task 000" in err and "the server refused it, so it was dropped" in err
    assert "could not capture 1 scalar point: a value that is not a number" in err
    assert _series(client, task_id, "loss", "train") == {"x": [1, 2], "y": [0.5, 0.25]}
    reporter.close()
    assert not spool.exists()


def test_server_down_then_back_every_point_once(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    server = ServerProcess(tmp_path / "data")
    server.start()
    client = ApiClient(server.url, timeout=5, as_run=True)
    try:
        task_id = _new_task(client)
        spool = tmp_path / "spool.jsonl"
        reporter = Reporter(client, task_id, spool_path=spool, flush_interval=0.1)
        for i in range(1000):
            reporter.add_scalar("loss", "train", i * 0.5, i)
        assert reporter.flush(timeout=30)

        server.stop()
        for i in range(1000, 5000):
            reporter.add_scalar("loss", "train", i * 0.5, i)
        owner = {"value": "alice", "type": "str", "description": ""}
        reporter.call("set_user_properties", task_id, {"owner": owner})
        reporter.add_console("stderr", "written while the server was down")
        wait_for(lambda: _spooled_points(spool) == 4000)  # kept on disk, not only in memory
        assert not reporter.flush(timeout=0.2)

        server.start()
        assert reporter.flush(timeout=60)
        summary = client.get_metrics(task_id)["metrics"]["loss"]["train"]
        assert (summary["count"], summary["last"], summary["last_iter"]) == (5000, 2499.5, 4999)
        assert _series(client, task_id, "loss", "train")["x"] == list(range(5000))
        assert client.get_task(task_id)["user_properties"] == {"owner": owner}
        lines = client.get_console(task_id)["lines"]
        assert [line["text"] for line in lines] == ["written while the server was down"]
        assert session_log.count_ops(spool) == 0
        reporter.close()
        assert not spool.exists()
    finally:
        client.close()
        server.stop()
    err = capfd.readouterr().err
    assert err.count("keeping data in") == 1
    assert "answers again" in err


def test_a_server_taking_smaller_batches_gets_them_in_halves_once(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    server = ServerProcess(tmp_path / "data", env={"TUNELAB_MAX_BATCH_POINTS": "1000"})
    server.start()
    try:
        with ApiClient(server.url, as_run=True) as client:
            task_id = _new_task(client)
            spool = tmp_path / "spool.jsonl"
            reporter = Reporter(client, task_id, spool_path=spool, flush_interval=3600)
            for i in range(4000):
                reporter.add_scalar("loss", "train", i / 2, i)
            for i in range(300):
                reporter.add_scalar("loss", "val", i / 3, i)
            reporter.close()  # one batch of 4,300 points: refused whole, sent in halves
            assert _series(client, task_id, "loss", "train")["x"] == list(range(4000))
            assert _series(client, task_id, "loss", "val")["y"] == [i / 3 for i in range(300)]

            # A spool line as large, synced twice: the halves' ids are the same both times.
            batch = Op(
                "scalars",
                task_id,
                {"series": [{
                    "metric": "acc",
                    "variant": "val",
                    "iterations": pack_ints(range(2500)),
                    "values": pack_floats([0.5] * 2500),
                    "timestamps": pack_floats([1.0] * 2500),
                }]},
                uuid.uuid4().hex,
            )  # fmt: skip
            session_log.append_ops(spool, [batch])
            assert sync_session(spool, client) == task_id
            session_log.progress_path(spool).unlink()
            assert sync_session(spool, client) == task_id
            metrics = client.get_metrics(task_id)["metrics"]
            assert metrics["acc"]["val"]["count"] == 2500
            assert metrics["loss"]["train"]["count"] == 4000
    finally:
        server.stop()
    assert capfd.readouterr().err == ""


def test_close_with_server_down_keeps_everything_for_sync(
    client: ApiClient, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    task_id = _new_task(client)
    spool = tmp_path / "spool" / f"{task_id}.jsonl"
    with ApiClient(_dead_url(), timeout=2) as dead:
        reporter = Reporter(dead, task_id, spool_path=spool)
        for i in range(3000):
            reporter.add_scalar("loss", "train", i * 0.5, i)
        reporter.add_console("stdout", "bye")
        reporter.call("update_task", task_id, status="completed")
        started = time.monotonic()
        reporter.close(timeout=1)
        assert time.monotonic() - started < 5
    hints = [line for line in capfd.readouterr().err.splitlines() if "were not sent" in line]
    count = session_log.count_ops(spool)
    assert hints == [
        f"tunelab: {count} operations for task {task_id} were not sent; kept in {spool} "
        f"— upload with: tunelab sync {spool}"
    ]
    assert _spooled_points(spool) == 3000

    assert sync_session(spool, client) == task_id
    assert _series(client, task_id, "loss", "train")["x"] == list(range(3000))
    assert client.get_task(task_id)["status"] == "completed"
    assert [line["text"] for line in client.get_console(task_id)["lines"]] == ["bye"]


KILLED_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tunelab.sdk.reporter import Reporter
    from tunelab.sdk.transport import ApiClient

    url, task_id, spool = sys.argv[1:4]
    reporter = Reporter(ApiClient(url, timeout=2), task_id, spool_path=Path(spool),
                        flush_interval=0.05)
    for i in range(20000):
        reporter.add_scalar("loss", "train", i / 2, i)
    reporter.call("update_task", task_id, comment="from the killed run")
    reporter.add_console("stdout", "last words")
    print("reported", flush=True)
    time.sleep(600)
    """
)


def test_killed_program_leaves_a_spool_that_sync_uploads_once(
    client: ApiClient, tmp_path: Path
) -> None:
    task_id = _new_task(client)
    spool = tmp_path / "spool.jsonl"
    args = [sys.executable, "-c", KILLED_SCRIPT, _dead_url(), task_id, str(spool)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"reported\n"
        wait_for(
            lambda: (
                _spooled_points(spool) == 20000
                and {op.op for _, op in session_log.iter_ops(spool)}
                == {"scalars", "update_task", "console"}
            )
        )
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    assert sync_session(spool, client) == task_id
    assert sync_session(spool, client) == task_id  # done lines are skipped
    session_log.progress_path(spool).unlink()
    assert sync_session(spool, client) == task_id  # and batch ids dedupe a full replay
    series = _series(client, task_id, "loss", "train")
    assert series["x"] == list(range(20000))
    assert series["y"] == [i / 2 for i in range(20000)]
    assert client.get_task(task_id)["comment"] == "from the killed run"
    assert [line["text"] for line in client.get_console(task_id)["lines"]] == ["last words"]


def test_a_batch_replayed_twice_is_stored_once(client: ApiClient, tmp_path: Path) -> None:
    task_id = _new_task(client)
    spool = tmp_path / "spool.jsonl"
    series = {
        "metric": "loss",
        "variant": "train",
        "iterations": pack_ints(range(100)),
        "values": pack_floats([float(i) for i in range(100)]),
        "timestamps": pack_floats([1.0] * 100),
    }
    # As after a crash between a send and the spool's truncation: the same batch twice.
    batch = Op("scalars", task_id, {"series": [series]}, uuid.uuid4().hex)
    session_log.append_ops(spool, [batch, batch])
    reporter = Reporter(client, task_id, spool_path=spool, flush_interval=0.1)  # adopts it
    assert reporter.flush(timeout=30)
    reporter.close()
    assert client.get_metrics(task_id)["metrics"]["loss"]["train"]["count"] == 100
    assert not spool.exists()
