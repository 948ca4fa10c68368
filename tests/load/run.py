"""One load run against a server already up: SDK clients logging, agents polling, a reader
watching; then what arrived, what failed, how long requests took and how the server's memory
went. Used by ``bench/bench_load.py`` (5 minutes, 64 clients, 16 agents) and by the short
CI test (``tests/load/test_load_short.py``).

    report = run_load("http://127.0.0.1:8080", server_pid, Path("/tmp/load"), LoadConfig())
    assert not report["errors"]
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.load.accounts import LoadKeys
from tests.load.fleet import AGENT_TASK_SCRIPT, Fleet
from tests.load.measure import ReadProbe, Sampler, latency_table, memory_summary, read_request_logs
from tests.load.verify import check_agent_tasks, check_clients
from tunelab.errors import Conflict
from tunelab.sdk.transport import ApiClient

# What an agent says on stderr when all is well; any other line is counted as an error.
_AGENT_NORMAL = re.compile(
    r"^tunelab agent: (worker \S+ serves the queues |took task |task \S+ completed$"
    r"|draining: finishing the current task, taking no new one$)"
)


@dataclass(frozen=True)
class LoadConfig:
    clients: int = 64
    agents: int = 16
    seconds: float = 300.0  # every client logs this long once the last one has started
    rate: float = 10.0  # steps a second per client: ``metrics`` points and one console line
    metrics: int = 5
    stagger: float = 0.5  # seconds between two client starts (64 imports at once choke 2 cores)
    queues: int = 8  # the agents share them, two to a queue by default
    agent_tasks: int = 10  # enqueued evenly over the run: most polls find nothing


def run_load(
    api_url: str,
    server_pid: int,
    root: Path,
    config: LoadConfig,
    keys: LoadKeys | None = None,
) -> dict[str, Any]:
    """``keys``: the server asks for login (``tests.load.accounts``)."""
    fleet = Fleet(
        root,
        api_url,
        client_token=keys.client if keys else None,
        agent_token=keys.agent if keys else None,
    )
    api = ApiClient(api_url, token=keys.admin if keys else None)
    queues = [f"load-{q}" for q in range(config.queues)]
    for queue in queues:
        with contextlib.suppress(Conflict):  # a queue left by an earlier run
            api.create_queue(queue)
    repo = _task_repository(root / "task-repo")
    sampler = Sampler(server_pid, fleet.pids).start()
    probe = ReadProbe(api_url, keys.client if keys else None).start()
    agent_task_ids: list[str] = []
    try:
        for a in range(config.agents):
            fleet.start_agent(f"load-agent-{a}", queues[a % len(queues)])
        began = time.monotonic()
        until = time.time() + config.clients * config.stagger + config.seconds
        names = [f"client-{c}" for c in range(config.clients)]
        for name in names:
            fleet.start_client(name, until, config.rate, config.metrics)
            time.sleep(config.stagger)
        steady_from = time.monotonic() - began
        gap = config.seconds / (config.agent_tasks + 1)
        for k in range(config.agent_tasks):
            time.sleep(gap)
            agent_task_ids.append(_enqueue(api, repo, queues[k % len(queues)], k))
        exits = fleet.wait_clients(timeout=max(0.0, until - time.time()) + 120)
        _wait_tasks_ended(api, agent_task_ids, timeout=120)
        agent_exits = fleet.stop_agents()
    finally:
        fleet.stop_all()
        probe.stop()
        sampler.stop()
    delivery = check_clients(api, fleet.results, names)
    requests = read_request_logs(fleet.log_dir) + probe.requests
    errors = _errors(fleet, exits, agent_exits, requests)
    errors += delivery.problems + check_agent_tasks(api, agent_task_ids)
    api.close()
    return {
        "config": asdict(config),
        "login": keys is not None,
        "errors": errors,
        "requests": len(requests),
        "failed_requests": sum(r.failed for r in requests),
        "latency_ms": latency_table(requests),
        "points_sent": delivery.points_sent,
        "points_stored": delivery.points_stored,
        "console_lines_sent": delivery.lines_sent,
        "console_lines_stored": delivery.lines_stored,
        "agent_tasks": len(agent_task_ids),
        "memory": memory_summary(sampler.samples, steady_from + 10),
        "rss_samples": sampler.samples,
    }


def server_complaints(log_text: str) -> list[str]:
    """The server's log after its start line: tracebacks and warnings, counted as errors."""
    return [f"server: {line}" for line in log_text.splitlines()[1:]]


def _errors(
    fleet: Fleet,
    exits: dict[str, int | None],
    agent_exits: dict[str, int | None],
    requests: list[Any],
) -> list[str]:
    errors = []
    for name, code in {**exits, **agent_exits}.items():
        if code != 0:
            errors.append(f"{name} exited with {code}")
    for name, _ in fleet.clients:
        # An SDK that had to warn (a 4xx, an outage, a failed sender) says so on stderr.
        errors += [f"{name}: {line}" for line in fleet.log_of(name).read_text().splitlines()]
    for name, _ in fleet.agents:
        for line in fleet.log_of(name).read_text().splitlines():
            if not _AGENT_NORMAL.match(line):
                errors.append(f"{name}: {line}")
    for request in requests:
        if request.failed:
            errors.append(f"{request.method} {request.path}: {request.status or request.error}")
    return errors


def _task_repository(path: Path) -> Path:
    """A git repository holding the agents' trivial task, isolated from any git config."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Load",
        "GIT_AUTHOR_EMAIL": "load@example.com",
        "GIT_COMMITTER_NAME": "Load",
        "GIT_COMMITTER_EMAIL": "load@example.com",
    }
    path.mkdir(parents=True)
    (path / "job.py").write_text(AGENT_TASK_SCRIPT)
    for args in (["init", "-q", "-b", "main"], ["add", "job.py"], ["commit", "-q", "-m", "job"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
    return path


def _enqueue(api: ApiClient, repo: Path, queue: str, k: int) -> str:
    execution = {"repository": str(repo), "branch": "main", "entry_point": "job.py",
                 "working_dir": "."}  # fmt: skip
    draft = api.create_task(
        {"name": f"job-{k}", "project": "load-jobs", "status": "draft", "execution": execution}
    )
    api.enqueue_task(draft["id"], queue=queue)
    return str(draft["id"])


def _wait_tasks_ended(api: ApiClient, task_ids: list[str], timeout: float) -> None:
    # Unfinished ones are reported by check_agent_tasks; this only gives them their time.
    deadline = time.monotonic() + timeout
    for task_id in task_ids:
        while time.monotonic() < deadline:
            if api.get_task(task_id)["status"] in ("completed", "failed", "stopped"):
                break
            time.sleep(0.5)
