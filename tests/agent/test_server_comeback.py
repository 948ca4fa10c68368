"""An agent waiting for a server that is down reaches it within seconds once it is back: its
waits between tries (registering, polling, heartbeats) stay short however long the outage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents import agent_daemon
from tests.port_gate import PortGate
from tests.scripts import unique
from tests.services import ServerProcess
from tests.waiting import wait_for
from tunelab.agent.heartbeat import Heartbeat
from tunelab.sdk.transport import ApiClient

# From the agent's first try: long enough for waits that keep growing to reach 5 s and more.
OUTAGE = 9.0
# A few seconds: the agent's longest wait between tries, and the time to register.
NOTICED_WITHIN = 5.0


@pytest.fixture
def gate(server: ServerProcess) -> Iterator[PortGate]:
    """The test server behind a port that is closed until the test opens it."""
    gate = PortGate(server.port)
    try:
        yield gate
    finally:
        gate.close()


def _registered(client: ApiClient, queue: str) -> bool:
    return any(queue in w["queues"] for w in client.list_workers()["items"])


def test_an_agent_registers_within_seconds_of_the_server_coming_back(
    server: ServerProcess, gate: PortGate, tmp_path: Path
) -> None:
    queue = unique("comeback")
    options = ("--poll-timeout", "1")  # it stops sooner at the end
    log = tmp_path / "agent.log"
    with agent_daemon(gate.url, tmp_path, queue, options=options) as agent:
        wait_for(lambda: "trying again" in log.read_text(), timeout=60, what="a first try")
        time.sleep(OUTAGE)  # the outage itself: the agent keeps trying meanwhile
        assert agent.poll() is None, log.read_text()
        gate.open()
        back = time.monotonic()
        with ApiClient(server.url) as client:
            wait_for(lambda: _registered(client, queue), 30, "the agent to register", 0.1)
        waited = time.monotonic() - back
        assert waited < NOTICED_WITHIN, (waited, log.read_text())


def test_a_heartbeat_after_a_failed_one_comes_within_seconds(
    server: ServerProcess, gate: PortGate
) -> None:
    worker = unique("beating")
    with ApiClient(server.url) as client, ApiClient(gate.url) as through_gate:
        client.register_worker(worker, [unique("comeback")])
        # Beats every 30 s, so only the retry after a failed beat can reach the server soon.
        heartbeat = Heartbeat(through_gate, worker, interval=30).start()
        try:
            time.sleep(0.5)  # the first beat finds no server
            reopened = time.time()
            gate.open()

            def beaten() -> bool:
                found = [w for w in client.list_workers()["items"] if w["id"] == worker]
                return bool(found) and found[0]["last_heartbeat"] >= reopened

            wait_for(beaten, timeout=NOTICED_WITHIN, what="a heartbeat", interval=0.1)
        finally:
            heartbeat.stop()
