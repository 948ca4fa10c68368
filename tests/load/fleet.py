"""The load's processes: SDK clients (real training scripts, one process each) and agents
(real ``tunelab agent daemon`` processes), all instrumented by a ``sitecustomize`` that
times every HTTP request they make.

The instrumentation wraps ``httpx.HTTPTransport.handle_request`` (time to the response's
headers, its status, the server's ``Server-Timing``) and appends one line per request to
``<log_dir>/<pid>.tsv``; the code under load is not changed. A task an agent launches
inherits the variables, so its requests would be timed too (the trivial task sends none).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.scripts import script_env

# The variable naming the request-log folder; not TUNELAB_* so no Tunelab setting reads it.
LOG_DIR_VARIABLE = "LOADBENCH_REQUEST_LOG"

SITECUSTOMIZE = """
import os, threading, time
_dir = os.environ.get("LOADBENCH_REQUEST_LOG")
try:
    import httpx
except ImportError:  # a task environment without httpx sends nothing to time
    httpx = None
if _dir and httpx is not None:
    _file = open(os.path.join(_dir, "%d.tsv" % os.getpid()), "a", buffering=1)
    _lock = threading.Lock()
    _original = httpx.HTTPTransport.handle_request

    def _record(request, status, began, server_ms, error):
        ms = (time.perf_counter() - began) * 1000
        line = "%s\\t%s\\t%d\\t%.2f\\t%s\\t%s\\n" % (
            request.method, request.url.path, status, ms, server_ms, error)
        with _lock:
            _file.write(line)

    def handle_request(self, request):
        began = time.perf_counter()
        try:
            response = _original(self, request)
        except Exception as exc:
            _record(request, 0, began, "", type(exc).__name__)
            raise
        timing = response.headers.get("server-timing", "")
        server_ms = timing.split("dur=", 1)[1] if "dur=" in timing else ""
        _record(request, response.status_code, began, server_ms, "")
        return response

    httpx.HTTPTransport.handle_request = handle_request
"""

# One SDK client: reports ``metrics`` scalars and prints one console line per step, at
# ``rate`` steps a second, until the wall-clock time ``until``; then says what it sent.
CLIENT_SCRIPT = """
import json, sys, time
from tunelab import Task

result_path, name, until = sys.argv[1], sys.argv[2], float(sys.argv[3])
rate, metrics = float(sys.argv[4]), int(sys.argv[5])
# Each series and console line is checked against what was sent: the machine monitor's own
# are left out.
task = Task.init(project_name="load", task_name=name, auto_resource_monitoring=False)
logger = task.get_logger()
titles = ["metric%d" % m for m in range(metrics)]
period = 1.0 / rate
began = time.monotonic()
step = 0
while time.time() < until:
    for title in titles:
        logger.report_scalar(title, "value", step * 0.5, step)
    print("step %d of %s" % (step, name))
    step += 1
    delay = began + step * period - time.monotonic()
    if delay > 0:
        time.sleep(delay)
with open(result_path, "w") as out:
    json.dump({"task_id": task.id, "name": name, "steps": step, "metrics": metrics}, out)
"""

# What the agents run: trivial on purpose, the agents' load is their polling.
AGENT_TASK_SCRIPT = 'print("load task done")\n'


@dataclass
class Fleet:
    """Processes started under ``root``; every one of them is stopped by ``stop_all``."""

    root: Path
    api_url: str
    # With login on: the key the clients log with, and the agents' (a worker account's).
    client_token: str | None = None
    agent_token: str | None = None
    clients: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    agents: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log_dir = self.root / "requests"
        self.results = self.root / "results"
        self.home = self.root / "home"
        hook = self.root / "hook"
        for folder in (self.log_dir, self.results, self.home, hook, self.root / "logs"):
            folder.mkdir(parents=True, exist_ok=True)
        (hook / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE))
        self.script = self.root / "client.py"
        self.script.write_text(textwrap.dedent(CLIENT_SCRIPT))
        uv_cache = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
        self.env = script_env(
            self.api_url,
            self.home,
            # Kept after the hook: a bench may point every process at another source tree.
            PYTHONPATH=os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
            UV_CACHE_DIR=uv_cache,  # the private HOME must not mean downloading again
            **{LOG_DIR_VARIABLE: str(self.log_dir)},
        )

    def start_client(self, name: str, until: float, rate: float, metrics: int) -> None:
        args = [str(self.results / f"{name}.json"), name, f"{until:.3f}", str(rate), str(metrics)]
        command = [str(self.script), *args]
        self.clients.append((name, self._spawn(name, command, self.client_token)))

    def start_agent(self, name: str, queue: str) -> None:
        command = [
            "-m", "tunelab.cli.main", "agent", "daemon", "--queue", queue,
            "--work-dir", str(self.root / "agent-work"), "--worker-id", name,
            "--stop-grace", "5",
        ]  # fmt: skip
        self.agents.append((name, self._spawn(name, command, self.agent_token)))

    def log_of(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def _spawn(self, name: str, args: list[str], token: str | None) -> subprocess.Popen[bytes]:
        # stdout is the script's own printing (also captured as its console): not needed
        # here; stderr is where the SDK and the agent say that something went wrong.
        with open(self.log_of(name), "wb") as log:
            return subprocess.Popen(
                [sys.executable, *args],
                cwd=self.root,
                env={**self.env, "TUNELAB_API_TOKEN": token} if token else self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # a Ctrl-C of the bench reaches the bench only
            )

    def wait_clients(self, timeout: float) -> dict[str, int | None]:
        """Each client's exit code (None: still running after ``timeout``)."""
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for name, proc in self.clients:
            try:
                codes[name] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[name] = None
        return codes

    def stop_agents(self, timeout: float = 30.0) -> dict[str, int | None]:
        """SIGTERM each agent (an idle one drains within its poll); their exit codes."""
        for _, proc in self.agents:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for name, proc in self.agents:
            try:
                codes[name] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[name] = None
        return codes

    def stop_all(self) -> None:
        """Kill whatever is still running (after a failure); each by its own id."""
        for _, proc in (*self.clients, *self.agents):
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def pids(self) -> list[int]:
        return [proc.pid for _, proc in (*self.clients, *self.agents) if proc.poll() is None]
