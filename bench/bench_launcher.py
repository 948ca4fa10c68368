"""Enqueue -> script start through ``tunelab launcher --backend slurm``. Prints JSON.

    .venv/bin/python bench/bench_launcher.py [--tasks 5] [--speed 1] [--burst]

Everything real and on this machine: a one-node Slurm cluster (tests/slurm.py: munged,
slurmctld and slurmd as this user, root; ``--speed 1`` runs the controller on the real
clock, the tests run it 20 times as fast), a ``tunelab server`` process, and a ``tunelab
launcher --backend slurm`` process with its defaults (25 s long poll, jobs read every 5 s)
serving a queue. Each task runs a tiny script from a local git repository whose first line
writes ``time.time()``. A first, unmeasured task builds the repository mirror and the
environment, so the measured ones run warm, as ``bench_agent.py``'s do.

Tasks go one at a time: each is enqueued while the launcher waits in its long poll and the
previous task has ended (``--burst``: all enqueued at once; the launcher takes one a poll
and runs at most 10 jobs at a time, its default ``--max-jobs``). Five instants per task,
all on this machine's clock:

- ``enqueued``: just before the enqueue call;
- ``claimed``: the task's ``started`` (the server gave it to the launcher's poll);
- ``submitted``: the ``ts`` of the launcher's console line ``submitted as slurm job N``,
  stamped once ``sbatch`` has answered;
- ``job start``: the batch script's first command (the launcher's ``--tunelab`` is a
  wrapper that writes ``date +%s.%N``, then execs ``tunelab``);
- ``script start``: the script's first line.

Reported, median and p90 over the tasks: ``pickup`` (claimed - enqueued) and ``sbatch``
(submitted - claimed: the batch script written and ``sbatch`` run), together the
launcher's overhead; ``slurm`` (job start - submitted: Slurm's own scheduling delay and
its launch of the batch step); ``agent_execute`` (script start - job start: ``tunelab agent
execute`` fetching the task, checking the repository out, the warm environment, the
script's interpreter). Also ``sbatch`` run alone (``--wrap true``) and the launcher's CPU
time per task.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_agent import read_time
from tests.services import ServerProcess
from tests.slurm import SlurmCluster, slurm_cluster

from tunelab.sdk.transport import ApiClient

QUEUE = "bench-slurm"
SCRIPT = """import time; START = time.time()
import os
with open(os.path.join({out!r}, "script-" + os.environ["TUNELAB_TASK_ID"]), "w") as f:
    f.write(repr(START))
"""
# The batch script execs this instead of tunelab: the job's start, then the real command.
WRAPPER = """#!/bin/sh
date +%s.%N > {out}/job-$SLURM_JOB_ID
exec {tunelab} "$@"
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def repository(root: Path, out: Path) -> dict[str, str]:
    repo = root / "repo"
    repo.mkdir()
    (repo / "start.py").write_text(SCRIPT.format(out=str(out)))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench")
    return {
        "repository": str(repo),
        "branch": "main",
        "commit": git(repo, "rev-parse", "HEAD"),
        "entry_point": "start.py",
        "working_dir": ".",
    }


def sbatch_alone(cluster: SlurmCluster, runs: int) -> list[float]:
    """``sbatch`` of a trivial job, as the launcher runs it: the command's own cost."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        cluster.run("sbatch", "--parsable", "--output=/dev/null", "--wrap", "true")
        times.append(time.perf_counter() - started)
    return times


def stamp(value: Any) -> float:
    """A task's time field as seconds since the epoch (the API answers ISO text)."""
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value)).timestamp()


def run_tasks(
    client: ApiClient, execution: dict[str, str], out: Path, names: list[str]
) -> list[dict[str, Any]]:
    """Enqueue a task per name, one right after the other, and time each to its start."""
    body = {"project": "bench", "execution": execution}
    ids = [client.create_task({**body, "name": name})["id"] for name in names]
    time.sleep(0.5)  # the launcher waits in its long poll again
    enqueued = {}
    for task_id in ids:
        enqueued[task_id] = time.time()
        client.enqueue_task(task_id, QUEUE)
    return [timed(client, task_id, enqueued[task_id], out) for task_id in ids]


def timed(client: ApiClient, task_id: str, enqueued: float, out: Path) -> dict[str, Any]:
    script = read_time(out / f"script-{task_id}", timeout=120.0)
    deadline = time.monotonic() + 120
    while (task := client.get_task(task_id))["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {task_id} did not end")
        time.sleep(0.05)
    if task["status"] != "completed":
        raise RuntimeError(f"task {task_id} {task['status']}: {task.get('status_reason')}")
    job_id = task["launch"]["job_id"]
    lines = client.get_console(task_id, limit=1000)["lines"]
    (submitted,) = [x["ts"] for x in lines if f"submitted as slurm job {job_id}" in x["text"]]
    return {
        "enqueued": enqueued,
        "claimed": stamp(task["started"]),
        "submitted": float(submitted),
        "job": read_time(out / f"job-{job_id}", timeout=120.0),
        "script": script,
    }


def figures(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return {"median_s": round(statistics.median(ordered), 3), "p90_s": round(p90, 3)}


def bench(tasks: int, speed: int, burst: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tunelab-bench-launcher-") as tmp:
        root = Path(tmp)
        out = root / "times"
        out.mkdir()
        execution = repository(root, out)
        wrapper = root / "tunelab-timed"
        tunelab = Path(sys.executable).parent / "tunelab"
        wrapper.write_text(WRAPPER.format(out=out, tunelab=tunelab))
        wrapper.chmod(0o755)
        with slurm_cluster(root / "slurm", speed=speed) as cluster:
            alone = sbatch_alone(cluster, tasks)
            server = ServerProcess(root / "server")
            server.start()
            env = {k: v for k, v in os.environ.items() if not k.startswith("TUNELAB_")}
            env.update({"TUNELAB_API_URL": server.url, "HOME": str(root),
                        "SLURM_CONF": str(cluster.conf)})  # fmt: skip
            command = [
                sys.executable, "-m", "tunelab.cli.main", "launcher", "--queue", QUEUE,
                "--backend", "slurm", "--work-dir", str(root / "launcher"),
                "--tunelab", str(wrapper),
            ]  # fmt: skip
            with open(root / "launcher.log", "wb") as log:
                launcher = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            runs: list[dict[str, Any]] = []
            try:
                with ApiClient(server.url) as client:
                    run_tasks(client, execution, out, ["warm-up"])
                    cpu = psutil.Process(launcher.pid).cpu_times()
                    if burst:
                        runs = run_tasks(
                            client, execution, out, [f"start-{n}" for n in range(tasks)]
                        )
                    for n in range(0 if burst else tasks):
                        runs += run_tasks(client, execution, out, [f"start-{n}"])
                    after = psutil.Process(launcher.pid).cpu_times()
            except Exception:
                sys.stderr.write((root / "launcher.log").read_text())
                raise
            finally:
                launcher.send_signal(signal.SIGTERM)
                launcher.wait(60)
                server.stop()
    parts = {
        "pickup": [r["claimed"] - r["enqueued"] for r in runs],
        "sbatch": [r["submitted"] - r["claimed"] for r in runs],
        "launcher_overhead": [r["submitted"] - r["enqueued"] for r in runs],
        "slurm": [r["job"] - r["submitted"] for r in runs],
        "agent_execute": [r["script"] - r["job"] for r in runs],
        "enqueue_to_script_start": [r["script"] - r["enqueued"] for r in runs],
    }
    total = statistics.median(parts["enqueue_to_script_start"])
    # Its own and its finished children's (sbatch, squeue, scontrol): what serving cost.
    cpu_used = sum(after) - sum(cpu)
    return {
        "tasks": tasks,
        "burst": burst,
        "controller_clock_speed": speed,
        "load_average_1m": round(os.getloadavg()[0], 1),
        **{name: figures(values) for name, values in parts.items()},
        "share_of_median_total": {
            name: round(statistics.median(parts[name]) / total, 2)
            for name in ("launcher_overhead", "slurm", "agent_execute")
        },
        "sbatch_alone": {**figures(alone), "runs_s": [round(x, 3) for x in alone]},
        "launcher_cpu_per_task_s": round(cpu_used / tasks, 3),
        "per_task_s": [
            {name: round(values[i], 3) for name, values in parts.items()} for i in range(tasks)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument(
        "--speed", type=int, default=1, help="the controller's clock speed (1: the real clock)"
    )
    parser.add_argument(
        "--burst", action="store_true", help="enqueue all the tasks at once, not one at a time"
    )
    args = parser.parse_args()
    print(json.dumps(bench(args.tasks, args.speed, args.burst), indent=2))


if __name__ == "__main__":
    main()
