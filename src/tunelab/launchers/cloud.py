"""Cloud instances through SkyPilot: each task on an instance of its own, launched with
``sky.launch`` and torn down when its job ends.

The task's resources become a SkyPilot task (``launchers.cloud_task``) whose ``run`` section
is ``tunelab agent execute --id TASK``; SkyPilot picks the cloud, region and instance it can
get (or the ones the task names) and launches it with autostop and ``down=True``: an
instance idle for ``idle_minutes`` after its job is torn down, so none outlives its
experiment. The job id is the cluster's name (``tunelab-<task id>``); its state is the
cluster's (``INIT`` while it comes up) and then its job's (``SETTING_UP``, ``RUNNING``,
``SUCCEEDED``...), read with ``sky status`` and ``sky queue``. Stop cancels the job (``sky
cancel``: SIGTERM to its processes), and tears the instance down (``sky down``) once the
grace period is over; a launch still in flight is aborted and torn down at once. A spot
instance preempted while its task runs is launched again ``spot_relaunches`` times (the
job starts over: the script resumes from what it saved), then its task fails "preempted".

SkyPilot runs in a process of its own (``launchers.sky_bridge``), started with
``sky_python``: the launcher's interpreter by default (``pip install tunelab[cloud]``), or one
in an environment of its own, since SkyPilot pins its own versions of the web stack.

Example::

    cloud = Cloud(SkyBridge(), setup="pip install tunelab==1.4", idle_minutes=5)
    job_id = cloud.submit(request)     # "tunelab-4f2a…", launching
    cloud.states([job_id])             # {"tunelab-4f2a…": JobState("INIT", "launching")}
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tunelab.launchers.base import JobRequest, JobState, LaunchError
from tunelab.launchers.cloud_task import DEFAULT_SETUP, cluster_name, sky_task

BRIDGE = Path(__file__).with_name("sky_bridge.py")
# Importing SkyPilot alone takes seconds; a launch request is answered once queued.
CALL_TIMEOUT = 180.0
# SkyPilot's job states that are ends, and what each says of a task still running then.
ENDED = {
    "SUCCEEDED": "",
    "FAILED": "",
    "FAILED_SETUP": "the cloud instance's setup failed",
    "FAILED_DRIVER": "SkyPilot's job driver failed",
    "CANCELLED": "cancelled in the cloud",
}
LAUNCHING = ("PENDING", "RUNNING")  # a launch request's states before its answer


class SkyEngine(Protocol):
    """What the back end asks of SkyPilot (``SkyBridge``)."""

    def validate(self, tasks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...

    def launch(self, task: Mapping[str, Any], cluster: str, idle_minutes: int) -> str: ...

    def status(
        self, clusters: Sequence[str], requests: Mapping[str, str]
    ) -> dict[str, dict[str, Any]]: ...

    def cancel(self, cluster: str) -> None: ...

    def down(self, cluster: str, request: str) -> None: ...

    def cost(self, task: Mapping[str, Any]) -> float | None: ...


class SkyBridge:
    """SkyPilot in a process of ``python`` (one that has ``sky``), started on first use."""

    def __init__(self, python: str = "", env: Mapping[str, str] | None = None) -> None:
        self.python = python or sys.executable
        # SkyPilot's process has no use for the launcher's key: Tunelab's variables stay here.
        base = os.environ if env is None else env
        self.env = {k: v for k, v in base.items() if not k.startswith("TUNELAB_")}
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def call(self, op: str, timeout: float = CALL_TIMEOUT, **fields: Any) -> Any:
        with self._lock:
            proc = self._started()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
                proc.stdin.flush()
                line = _read_line(proc, timeout)
            except (OSError, TimeoutError) as exc:
                self.close()
                raise LaunchError(f"SkyPilot ({self.python}) did not answer {op}: {exc}") from exc
        reply = json.loads(line)
        if not reply.get("ok"):
            raise LaunchError(f"SkyPilot {op}: {reply.get('error')}")
        return reply.get("result")

    def _started(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            try:
                self._proc = subprocess.Popen(
                    [self.python, str(BRIDGE)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=self.env,
                )
            except OSError as exc:
                raise LaunchError(f"{self.python} could not be run: {exc}") from exc
        return self._proc

    def close(self) -> None:
        """End SkyPilot's process: its input closed, it leaves (killed after a while)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def validate(self, tasks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return list(self.call("validate", tasks=list(tasks)))

    def launch(self, task: Mapping[str, Any], cluster: str, idle_minutes: int) -> str:
        return str(self.call("launch", task=task, cluster=cluster, idle_minutes=idle_minutes))

    def status(
        self, clusters: Sequence[str], requests: Mapping[str, str]
    ) -> dict[str, dict[str, Any]]:
        return dict(self.call("status", clusters=list(clusters), requests=dict(requests)))

    def cancel(self, cluster: str) -> None:
        self.call("cancel", cluster=cluster)

    def down(self, cluster: str, request: str) -> None:
        self.call("down", cluster=cluster, request=request)

    def cost(self, task: Mapping[str, Any]) -> float | None:
        found = self.call("cost", task=task)
        return None if found is None else float(found)


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"no answer in {timeout:g}s")
    line = proc.stdout.readline()
    if not line:
        raise OSError(f"it exited ({proc.wait()})")
    return line


@dataclass
class _Launched:
    task: dict[str, Any]
    request: str  # the launch request's id ("" for a job found again after a restart)
    spot: bool
    cost: str
    relaunches: int = 0
    was_up: bool = False
    cancelled: bool = False
    down_at: float = 0.0  # a stopped job's instance goes down then (its grace period over)


class Cloud:
    """A launcher back end on cloud instances, one per task, through SkyPilot."""

    name = "cloud"

    def __init__(
        self,
        engine: SkyEngine,
        *,
        setup: str = DEFAULT_SETUP,
        idle_minutes: int = 5,
        spot_relaunches: int = 1,
    ) -> None:
        self.engine = engine
        self.setup = setup
        self.idle_minutes = idle_minutes
        self.spot_relaunches = spot_relaunches
        self.launched: dict[str, _Launched] = {}  # by cluster name

    def task(self, job: JobRequest) -> dict[str, Any]:
        """The SkyPilot task for ``job``, checked by SkyPilot's own parser."""
        task = sky_task(job, setup=self.setup)
        (checked,) = self.engine.validate([task])
        if checked["error"]:
            raise LaunchError(f"SkyPilot refused the task: {checked['error']}")
        return task

    def submit(self, job: JobRequest) -> str:
        task = self.task(job)
        cluster = cluster_name(job.task_id)
        request = self.engine.launch(task, cluster, self.idle_minutes)
        hourly = self.engine.cost(task)
        cost = "unknown" if hourly is None else f"${hourly:.2f}/h"
        self.launched[cluster] = _Launched(task, request, job.resources.spot, cost)
        return cluster

    def states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        requests = {c: self.launched[c].request for c in job_ids if c in self.launched}
        found = self.engine.status(list(job_ids), requests)
        out: dict[str, JobState] = {}
        for cluster in job_ids:
            info = found.get(cluster) or {}
            launched = self.launched.get(cluster)
            state = self._state(cluster, info, launched)
            if launched is not None:
                state = dataclasses.replace(state, cost=launched.cost)
                if state.finished:
                    if launched.cancelled:  # stopped: no idle minutes for a stopped task
                        self._down_after(cluster, launched.down_at - time.monotonic())
                    del self.launched[cluster]
            out[cluster] = state
        return out

    def _state(self, cluster: str, info: Mapping[str, Any], launched: _Launched | None) -> JobState:
        status, job, request = info.get("cluster"), info.get("job"), info.get("request")
        if status is None:
            if request in LAUNCHING:
                return JobState("LAUNCHING", "SkyPilot is looking for an instance")
            if request in ("FAILED", "CANCELLED") and not (launched and launched.was_up):
                why = f"the cloud launch failed: {info.get('error') or request.lower()}"
                return JobState("LAUNCH_FAILED", why[:240], finished=True, failure=why)
            return self._lost(cluster, launched, "the cloud instance is gone")
        if launched is not None and status == "UP":
            launched.was_up = True
        if status == "STOPPED":
            return self._lost(cluster, launched, "the cloud instance stopped")
        if status != "UP" or job is None:
            return JobState(str(status), "the instance is coming up" if status == "INIT" else "")
        word = str(job)
        return JobState(word, "", finished=word in ENDED, failure=ENDED.get(word, ""))

    def _lost(self, cluster: str, launched: _Launched | None, what: str) -> JobState:
        """An instance gone or stopped under a job: a spot one preempted, launched again
        while relaunches are left."""
        if launched is None or not launched.spot:
            return JobState("GONE", what, finished=True, failure=what)
        if launched.cancelled or launched.relaunches >= self.spot_relaunches:
            return JobState("PREEMPTED", what, finished=True, failure="preempted")
        launched.relaunches += 1
        launched.was_up = False
        launched.request = self.engine.launch(launched.task, cluster, self.idle_minutes)
        note = f"preempted; launched again ({launched.relaunches} of {self.spot_relaunches})"
        return JobState("RELAUNCHING", note)

    def cancel(self, job_id: str, grace: float, pending: bool) -> None:
        launched = self.launched.get(job_id)
        if launched is not None:
            launched.cancelled = True
            launched.down_at = time.monotonic() + grace
        if pending or (launched is not None and not launched.was_up):
            self._down(job_id)  # nothing runs yet: no grace to give
            return
        self.engine.cancel(job_id)

    def kill(self, job_id: str) -> None:
        self._down(job_id)

    def _down_after(self, cluster: str, delay: float) -> None:
        """Tear the instance down once the job's processes had their grace period (SkyPilot
        marks a job cancelled as soon as it signalled it)."""
        if delay <= 0:
            self._down(cluster)
            return
        request = self.launched[cluster].request
        timer = threading.Timer(delay, self._down_quietly, (cluster, request))
        timer.daemon = True
        timer.start()

    def _down_quietly(self, cluster: str, request: str) -> None:
        # Refused: the autodown after the idle minutes is still to come.
        with contextlib.suppress(LaunchError):
            self.engine.down(cluster, request)

    def _down(self, cluster: str) -> None:
        launched = self.launched.get(cluster)
        self.engine.down(cluster, launched.request if launched is not None else "")
