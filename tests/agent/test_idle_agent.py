"""An idle agent with its default (long) poll: an enqueue reaches it at once, and a stop
request ends its wait at once instead of at the poll's end."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents import agent_daemon
from tests.scripts import unique
from tests.waiting import wait_for
from tunelab.agent.daemon import POLL_TIMEOUT
from tunelab.sdk.transport import ApiClient


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def serving(client: ApiClient, queue: str) -> bool:
    return any(queue in worker["queues"] for worker in client.list_workers()["items"])


def test_the_default_poll_is_long() -> None:
    # What the rest of this module proves is worth having only with a long poll.
    assert 20 <= POLL_TIMEOUT <= 30


def test_an_enqueue_reaches_an_idle_agent_at_once(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    queue = unique("idle")
    with agent_daemon(api_url, tmp_path, queue):
        wait_for(lambda: serving(client, queue), 30, "the agent to register")
        time.sleep(0.5)  # its first attempt is over: it waits in its (long) poll
        task = client.create_task({"name": "wake", "project": unique("idle"), "status": "draft"})
        client.enqueue_task(task["id"], queue=queue)
        enqueued = time.monotonic()
        wait_for(
            lambda: client.get_task(task["id"])["status"] != "queued", 5, "the agent to take it"
        )
        took = time.monotonic() - enqueued
    assert took < 1.0, f"taken {took:.2f} s after the enqueue"


def test_sigterm_ends_an_idle_agent_at_once(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    queue = unique("idle")
    with agent_daemon(api_url, tmp_path, queue) as agent:
        wait_for(lambda: serving(client, queue), 30, "the agent to register")
        time.sleep(0.5)  # in the middle of a poll
        agent.send_signal(signal.SIGTERM)
        began = time.monotonic()
        code = agent.wait(timeout=30)
        took = time.monotonic() - began
    assert code == 0
    assert took < 2.5, f"exited {took:.1f} s after SIGTERM"  # not its poll's 25 s
    assert not serving(client, queue)  # it unregistered on its way out
