"""The agent's start-up costs. Prints JSON.

    .venv/bin/python bench/bench_agent.py [--runs 3] [--latency-runs 5] [--no-truly-cold]

(a) Building a task's environment, for the requirements of ``examples/train.py``: it needs
nothing beyond the SDK, so the set is the SDK's runtime dependencies (httpx, click, pyyaml
at the agent's versions, plus what they pull in: anyio, certifi, h11, httpcore, idna,
typing-extensions) with the task's own line ``PyYAML==<agent's version>``:

- ``uv_warm``: the same requirements again (the cached environment is reused);
- ``uv_cold``: a new environment directory, uv's package cache as it is (usually warm);
- ``uv_truly_cold``: also an empty ``UV_CACHE_DIR``, so every package comes from the
  registry (needs the package registry; skipped with ``--no-truly-cold``);
- ``pip_cold``: ``python -m venv`` + ``pip install`` into a new directory, pip's cache as
  it is; ``pip_truly_cold``: with ``PIP_NO_CACHE_DIR=1``.

Each figure is the median of ``--runs`` builds, in seconds. Targets: warm <= 1 s, cold uv
at least 5x faster than pip.

(b) Enqueue -> script start: a ``tunelab agent daemon`` subprocess (environment cache
warm, repository mirror made by a first, unmeasured task) serving a queue on a real server;
the script's first line writes ``time.time()``; latency = that minus the time just before the
enqueue call. Median of ``--latency-runs``. Target: <= 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services import ServerProcess

from tunelab.agent.environment import EnvironmentBuilder
from tunelab.sdk.transport import ApiClient

REQUIREMENTS = f"PyYAML=={importlib.metadata.version('pyyaml')}\n"


@contextlib.contextmanager
def environ(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def timed(build: Callable[[], object]) -> float:
    started = time.perf_counter()
    build()
    return round(time.perf_counter() - started, 4)


def cold_build(installer: str, root: Path, **env: str) -> float:
    with tempfile.TemporaryDirectory(dir=root) as cache, environ(**env):
        builder = EnvironmentBuilder(Path(cache) / "envs", installer=installer)
        return timed(lambda: builder.build(REQUIREMENTS, lambda line: None))


def bench_builds(runs: int, truly_cold: bool) -> dict[str, object]:
    figures: dict[str, object] = {"requirements": REQUIREMENTS.strip(), "runs": runs}
    with tempfile.TemporaryDirectory(prefix="tunelab-bench-envs-") as tmp:
        root = Path(tmp)
        cold = [cold_build("uv", root) for _ in range(runs)]
        figures["uv_cold_s"] = statistics.median(cold)
        warm_builder = EnvironmentBuilder(root / "warm")
        warm_builder.build(REQUIREMENTS, lambda line: None)
        warm = [
            timed(lambda: warm_builder.build(REQUIREMENTS, lambda line: None)) for _ in range(5)
        ]
        figures["uv_warm_s"] = statistics.median(warm)
        pip = [cold_build("pip", root) for _ in range(runs)]
        figures["pip_cold_s"] = statistics.median(pip)
        figures["pip_over_uv_cold"] = round(statistics.median(pip) / statistics.median(cold), 1)
        if truly_cold:
            empty = [
                cold_build("uv", root, UV_CACHE_DIR=tempfile.mkdtemp(dir=root)) for _ in range(runs)
            ]
            figures["uv_truly_cold_s"] = statistics.median(empty)
            bare_pip = [cold_build("pip", root, PIP_NO_CACHE_DIR="1") for _ in range(runs)]
            figures["pip_truly_cold_s"] = statistics.median(bare_pip)
            figures["pip_over_uv_truly_cold"] = round(
                statistics.median(bare_pip) / statistics.median(empty), 1
            )
    return figures


SCRIPT = """import time; START = time.time()
import os
with open(os.path.join({out!r}, os.environ["TUNELAB_TASK_ID"]), "w") as f:
    f.write(repr(START))
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def bench_latency(runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tunelab-bench-agent-") as tmp:
        root = Path(tmp)
        out = root / "starts"
        out.mkdir()
        repo = root / "repo"
        repo.mkdir()
        (repo / "start.py").write_text(SCRIPT.format(out=str(out)))
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", ".")
        git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench")
        execution = {
            "repository": str(repo),
            "branch": "main",
            "commit": git(repo, "rev-parse", "HEAD"),
            "entry_point": "start.py",
            "working_dir": ".",
        }
        work = root / "agent"
        EnvironmentBuilder(work / "envs").build("", lambda line: None)  # the warm cache
        server = ServerProcess(root / "server")
        server.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNELAB_")}
        env.update({"TUNELAB_API_URL": server.url, "HOME": str(root)})
        command = [sys.executable, "-m", "tunelab.cli.main", "agent", "daemon", "--queue"]
        command += ["bench", "--work-dir", str(work)]
        with open(root / "agent.log", "wb") as log:
            agent = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        latencies = []
        try:
            with ApiClient(server.url) as client:
                for run in range(runs + 1):  # the first makes the repository mirror
                    body = {"name": f"start-{run}", "project": "bench", "execution": execution}
                    task_id = client.create_task(body)["id"]
                    time.sleep(0.5)  # the agent is idle in its long poll again
                    enqueued = time.time()
                    client.enqueue_task(task_id, "bench")
                    written = read_time(out / task_id)
                    while client.get_task(task_id)["status"] == "running":
                        time.sleep(0.02)
                    if run:
                        latencies.append(written - enqueued)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(60)
            server.stop()
    return {
        "enqueue_to_start_median_s": round(statistics.median(latencies), 3),
        "enqueue_to_start_s": [round(x, 3) for x in latencies],
    }


def read_time(path: Path, timeout: float = 60.0) -> float:
    """The time a started script wrote to ``path``, once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, ValueError, SyntaxError):
            return float(path.read_text())
        time.sleep(0.005)
    raise RuntimeError(f"never written: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-runs", type=int, default=5)
    parser.add_argument("--no-truly-cold", action="store_true")
    args = parser.parse_args()
    result = {
        "environment_build": bench_builds(args.runs, not args.no_truly_cold),
        "enqueue_to_start": bench_latency(args.latency_runs),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
