"""Several server replicas on one PostgreSQL: an agent and its task's script given every
replica's URL carry on through another when one dies, and a worker is judged lost on the
database's clock, whatever the clock of the replica that reaps.

A replica runs under libfaketime (Debian's ``faketime``) to give it a clock ten minutes off.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents import agent_daemon
from tests.gitrepo import isolate_git, new_repo
from tests.scripts import unique
from tests.services import ServerProcess, postgres_database
from tests.waiting import final_status, wait_for
from tunelab.sdk.transport import ApiClient

pytestmark = pytest.mark.postgres

# Short, so the test is; not shorter, so a loaded test machine's slow answers are no silence.
WORKER_TIMEOUT = "5"
# Debian's faketime package (scripts/test installs it), for the machine's architecture.
FAKETIME_LIBRARIES = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
STEPS = 80

TRAIN = f"""
import time
from tunelab import Task

task = Task.init(project_name="failover", task_name="long")
logger = task.get_logger()
for i in range({STEPS}):
    print(f"step {{i}}", flush=True)
    logger.report_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
    time.sleep(0.1)
"""


@pytest.fixture(scope="module")
def database(postgres_url: str) -> Iterator[str]:
    with postgres_database(postgres_url, "replicas") as url:
        yield url


def _replica(root: Path, database: str, **env: str) -> ServerProcess:
    server = ServerProcess(
        root, database_url=database, env={"TUNELAB_WORKER_TIMEOUT": WORKER_TIMEOUT, **env}
    )
    server.start(timeout=120)
    return server


@pytest.fixture(scope="module")
def replica_b(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The replica that stays up (it migrates the database first)."""
    server = _replica(tmp_path_factory.mktemp("replica-b"), database)
    try:
        yield server
    finally:
        server.stop()


def _skewed_env(seconds: int) -> dict[str, str]:
    if not FAKETIME_LIBRARIES:
        raise RuntimeError("libfaketime was not found: install Debian's 'faketime' package")
    # Only the wall clock moves: Python's waits go by the monotonic clock, which faked would
    # make them last the offset. (libfaketime 0.9.10 then fails time.sleep with EINVAL; the
    # server waits only in its event loop, which is unaffected.)
    return {
        "LD_PRELOAD": str(FAKETIME_LIBRARIES[-1]),
        "FAKETIME": f"{seconds:+d}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def test_a_replica_with_a_skewed_clock_reaps_no_live_worker(
    replica_b: ServerProcess, database: str, tmp_path: Path
) -> None:
    ahead = _replica(tmp_path / "ahead", database, **_skewed_env(600))
    try:
        with ApiClient(replica_b.url) as via_a, ApiClient(ahead.url) as via_ahead:
            queue = unique("skew")
            task = via_a.create_task({"name": "kept", "project": "skew", "status": "draft"})
            via_a.enqueue_task(task["id"], queue=queue)
            via_a.register_worker("silent", [queue])
            via_ahead.register_worker("beats-via-ahead", [queue])
            via_a.register_worker("beats-via-a", [queue])
            assert via_a.next_task("beats-via-a", timeout=0)["id"] == task["id"]  # type: ignore[index]

            # Reaps of both replicas go by until the silent worker, registered with the
            # others, is gone (the reapers work); those that beat stay, whichever replica
            # they beat through. (A reaper on its own clock, ten minutes ahead, removes every
            # worker beating through the other replica at its first round.)
            def silent_reaped() -> bool:
                via_a.heartbeat("beats-via-a", task["id"])
                via_ahead.heartbeat("beats-via-ahead")
                return "silent" not in {w["id"] for w in via_a.list_workers()["items"]}

            wait_for(silent_reaped, timeout=30, what="the silent worker to be reaped", interval=0.5)
            workers = {w["id"] for w in via_a.list_workers()["items"]}
            assert workers >= {"beats-via-a", "beats-via-ahead"}, workers
            assert via_a.get_task(task["id"])["status"] == "running"
    finally:
        ahead.stop()


def test_an_agent_and_its_run_carry_on_through_another_replica(
    replica_b: ServerProcess, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = _replica(tmp_path / "replica-a", database), replica_b
    try:
        _run_through_failover(a, b, tmp_path, monkeypatch)
    finally:
        a.stop()


def _run_through_failover(
    a: ServerProcess, b: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent and the script are given A then B; A is killed mid-run."""
    isolate_git(monkeypatch, tmp_path)
    repo = new_repo(tmp_path / "repo", {"train.py": TRAIN})
    queue = unique("failover")
    with ApiClient(b.url) as client:
        task = client.create_task(
            {
                "name": "long",
                "project": "failover",
                "status": "draft",
                "execution": {"repository": str(repo), "branch": "main",
                              "entry_point": "train.py", "working_dir": "."},
            }
        )  # fmt: skip
        both = f"{a.url},{b.url}"
        options = ("--heartbeat-interval", "0.5")
        with agent_daemon(both, tmp_path, queue, options=options) as agent:
            client.enqueue_task(task["id"], queue=queue)

            def printed(step: int) -> bool:
                lines = client.get_console(task["id"], limit=10000)["lines"]
                return any(line["text"] == f"step {step}" for line in lines)

            wait_for(lambda: printed(3), timeout=120, what="the run to be under way", interval=0.2)
            assert a.proc is not None
            a.proc.kill()  # SIGKILL: no goodbye to anyone
            a.proc.wait()
            down_since = time.monotonic()
            done = final_status(client, task["id"], timeout=120)
            # Long past the worker timeout (and a reap's round) with no replica A.
            assert time.monotonic() - down_since > float(WORKER_TIMEOUT) + 1
            assert agent.poll() is None, (tmp_path / "agent.log").read_text()

        log = (tmp_path / "agent.log").read_text()
        console = [line["text"] for line in client.get_console(task["id"], limit=10000)["lines"]]
        assert done["status"] == "completed", (done["status_reason"], log, console)
        steps = [text for text in console if text.startswith("step ")]
        assert steps == [f"step {i}" for i in range(STEPS)], console
        series = client.get_scalars(task["id"], max_points=0)["metrics"]["loss"]["train"]
        assert series["x"] == list(range(STEPS))
        assert series["y"] == [1.0 / (i + 1) for i in range(STEPS)]
