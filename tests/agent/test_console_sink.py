"""The agent's console sink while the server is away: lines wait in a capped spool on disk,
the gap past the cap is said, and a spool left behind is sent once by the next run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import unique
from tests.services import free_port
from tests.waiting import wait_for
from tunelab.agent.console_sink import ConsoleSink
from tunelab.agent.console_spool import deliver_leftovers, spool_path
from tunelab.sdk import session_log
from tunelab.sdk.transport import ApiClient

GAP = "lines of output were dropped here"


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


@pytest.fixture
def away() -> Iterator[ApiClient]:
    """A client of a server that is not there: nothing listens on its port."""
    with ApiClient(f"http://127.0.0.1:{free_port()}", timeout=2) as api:
        yield api


def _task(client: ApiClient) -> str:
    return str(client.create_task({"name": unique("sink"), "project": "agent-tests"})["id"])


def _texts(client: ApiClient, task_id: str) -> list[str]:
    return [line["text"] for line in client.get_console(task_id, limit=10_000)["lines"]]


def test_past_the_cap_the_first_and_last_lines_are_kept_and_the_gap_is_said(
    client: ApiClient, away: ApiClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = _task(client)
    spool = spool_path(tmp_path / "console-spool", task_id)
    sink = ConsoleSink(
        away, task_id, spool_path=spool, interval=0.02, max_batch_lines=5,
        max_buffered_lines=50, max_spool_bytes=1000,
    ).start()  # fmt: skip
    said: list[str] = []

    def agent_said(text: str) -> bool:
        said.append(capsys.readouterr().err)
        return text in "".join(said)

    for i in range(30):
        sink.write("stdout", f"line {i}")
    wait_for(lambda: agent_said("takes no more lines"), 10, "the spool to reach its cap")
    for i in range(30, 130):
        sink.write("stdout", f"line {i}")  # 50 wait in memory, older ones make room
    undelivered = sink.close(timeout=0.5)
    assert agent_said("is dropping lines"), said
    assert spool.stat().st_size > 1000  # the last lines, written past the cap on giving up

    # The next run of the task on this work dir sends the spool first.
    later = ConsoleSink(client, task_id, spool_path=spool).start()
    later.write("stdout", "after")
    assert later.close() == 0
    assert not spool.exists()

    texts = _texts(client, task_id)
    gaps = [i for i, text in enumerate(texts) if GAP in text]
    assert len(gaps) == 1, texts
    head = gaps[0]
    dropped = int(texts[head].split()[2])
    assert texts[:head] == [f"line {i}" for i in range(head)]
    assert texts[head + 1 :] == [f"line {i}" for i in range(head + dropped, 130)] + ["after"]
    assert len(texts) - head - 2 == 50
    assert undelivered == 130 - dropped + 1  # the gap's line too


def test_a_spool_left_behind_is_sent_once_before_the_next_task(
    client: ApiClient, away: ApiClient, tmp_path: Path
) -> None:
    task_id = _task(client)
    folder = tmp_path / "console-spool"
    path = spool_path(folder, task_id)
    sink = ConsoleSink(away, task_id, spool_path=path, interval=0.02).start()
    for text in ("a", "b", "c"):
        sink.write("stdout", text)
    assert sink.close(timeout=0.3) == 3
    # The server stored the first batch, and its answer was lost: sent again, it is not
    # stored twice.
    first = next(op for _, op in session_log.iter_ops(path))
    client.post_console(task_id, first.args["lines"], batch_id=first.batch_id)

    deliver_leftovers(client, folder)
    assert _texts(client, task_id) == ["a", "b", "c"]
    assert not path.exists()
    deliver_leftovers(client, folder)  # nothing left: nothing sent again
    assert _texts(client, task_id) == ["a", "b", "c"]


def test_the_spool_of_a_live_sink_is_left_to_it(
    client: ApiClient, away: ApiClient, tmp_path: Path
) -> None:
    """Agents sharing a work dir: one sends what another left, never what another still
    writes."""
    task_id = _task(client)
    folder = tmp_path / "console-spool"
    path = spool_path(folder, task_id)
    sink = ConsoleSink(away, task_id, spool_path=path, interval=0.02).start()
    sink.write("stdout", "kept")
    wait_for(path.exists, 10, "the line to be spooled")

    deliver_leftovers(client, folder)
    assert path.exists() and _texts(client, task_id) == []
    assert sink.close(timeout=0.3) == 1
    deliver_leftovers(client, folder)
    assert not path.exists() and _texts(client, task_id) == ["kept"]
