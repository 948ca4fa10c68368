"""The loop every launcher shares: serve a queue, submit each task as a job, follow the jobs.

    register ─► long poll ─► submit (command: tunelab agent execute --id TASK,
       ▲            │                 the task's own key in the job's environment)
       └── heartbeat: stop requests ─► cancel    job states ─► the task's ``launch`` record,
                                                 a job's end ─► the task's outcome

A launcher is a worker like an agent (the Workers page lists it), but it runs nothing
itself: a back end (``Backend``: Slurm today; Kubernetes or a cloud later) submits each task
as a job whose command is ``tunelab agent execute --id TASK``, so every engine runs the same
code as an agent. The job gets the task's own key, never the launcher's. At most
``max_jobs`` jobs are in flight; the launcher takes no task while that many are.

It records the engine's job id and state on the task (``launch``) whenever they change.
The script records its own outcome; a job that ends while its task still runs (killed
before the script reported, preempted, out of time or memory, cancelled in the engine)
has its task failed with the engine's reason, and a stop request cancels the job (the task
then ends ``stopped``). A launcher restarted finds its jobs again from the tasks that run on
its worker (their ``launch`` record) and follows them, instead of failing or submitting
them again. SIGTERM drains: no new task is taken; jobs in flight are left to the engine,
for the launcher started again to follow.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

from tunelab.agent.daemon import RETRY_DELAYS, _Poll
from tunelab.agent.launched import SCHEDULER_VARIABLE
from tunelab.domain.launch import Launch
from tunelab.domain.resources import Resources
from tunelab.domain.task import TaskStatus
from tunelab.domain.terminal_text import plain
from tunelab.errors import Conflict, NotFound, ServerUnavailable, TunelabError
from tunelab.sdk.secrets import process_masker

POLL_TIMEOUT = 25.0
# How often job states are read from the engine and the heartbeat sent.
CHECK_INTERVAL = 5.0


@dataclass(frozen=True)
class JobState:
    """A job's state as its engine says it."""

    state: str  # the engine's word: PENDING, RUNNING, COMPLETED, TIMEOUT...
    reason: str = ""  # why it waits or ended (Slurm's "Resources", "Priority"...)
    finished: bool = False
    # Why the engine ended it, in words for the task ("time limit", "out of memory",
    # "preempted"); empty for a job that ended by itself.
    failure: str = ""
    exit_code: str = ""
    cost: str = ""  # what the job costs, where the engine says ("$0.07/h" on a cloud)


@dataclass(frozen=True)
class JobRequest:
    """What a back end submits: the task, what it asks for, the command and its variables."""

    task_id: str
    name: str
    resources: Resources
    command: list[str]
    env: dict[str, str]
    image: str = ""  # the task's container image (execution.docker_image), for engines with one


class Backend(Protocol):
    """A scheduler: submit a job, read job states, cancel one."""

    name: str

    def submit(self, job: JobRequest) -> str:
        """The engine's job id; raises LaunchError when the engine refuses the job."""
        ...

    def states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        """The states of these jobs; one the engine no longer knows is absent."""
        ...

    def cancel(self, job_id: str, grace: float, pending: bool) -> None:
        """Ask the job to end: a signal, then after ``grace`` seconds ``kill``."""
        ...

    def kill(self, job_id: str) -> None: ...


class LaunchError(TunelabError):
    """The engine refused a job, or a command of the engine failed."""

    status = 502
    code = "launch_error"


@dataclass
class _Job:
    task_id: str
    job_id: str
    state: str = ""
    reason: str = ""
    stop_asked: float | None = None  # when this launcher asked the engine to cancel it
    stop_reason: str = ""
    killed: bool = False
    cost: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _say(text: str) -> None:
    line = process_masker().mask_text(f"tunelab launcher: {plain(text)}\n")
    os.write(sys.stderr.fileno(), line.encode(errors="replace"))


class Launcher:
    """Serves ``queue`` by submitting its tasks to ``backend``.

    >>> launcher = Launcher(client, "login1:slurm", "gpu", Slurm(work_dir), max_jobs=8,
    ...                     command=["tunelab", "agent", "execute"])
    >>> launcher.serve()  # until SIGTERM  # doctest: +SKIP
    0
    """

    def __init__(
        self,
        client: Any,
        worker_id: str,
        queue: str,
        backend: Backend,
        *,
        max_jobs: int = 10,
        command: Sequence[str] = ("tunelab", "agent", "execute"),
        stop_grace: float = 10.0,
        poll_timeout: float = POLL_TIMEOUT,
        check_interval: float = CHECK_INTERVAL,
    ) -> None:
        self.client = client
        self.worker_id = worker_id
        self.queue = queue
        self.backend = backend
        self.max_jobs = max_jobs
        self.command = list(command)
        self.stop_grace = stop_grace
        self.poll_timeout = poll_timeout
        self.check_interval = check_interval
        self.draining = threading.Event()
        self.jobs: dict[str, _Job] = {}  # by task id
        self._woken = threading.Event()
        self._poll: _Poll | None = None

    # ----- the loop ---------------------------------------------------------------------

    def serve(self) -> int:
        """Take tasks and follow their jobs until drained; the exit code."""
        self._retrying(self._find_jobs)
        self._retrying(self._register)
        _say(
            f"worker {self.worker_id} serves the queue {self.queue} with {self.backend.name} "
            f"(at most {self.max_jobs} jobs; {len(self.jobs)} found again)"
        )
        next_check = 0.0
        failures = 0
        while not self.draining.is_set():
            try:
                if self._poll is None and len(self.jobs) < self.max_jobs:
                    self._woken.clear()
                    self._poll = _Poll(self.client, self.worker_id, self.poll_timeout, self._woken)
                wait = max(0.0, next_check - time.monotonic())
                self._woken.wait(wait if self._poll is not None else min(wait, 1.0))
                self._take_answer()
                if time.monotonic() >= next_check:
                    self._check()
                    next_check = time.monotonic() + self.check_interval
                failures = 0
            except NotFound:
                self._retrying(self._register)  # the server forgot this worker
            except LaunchError as exc:  # the engine's commands: the next round tries again
                _say(exc.message)
                self.draining.wait(self.check_interval)
            except ServerUnavailable as exc:
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                _say(f"{exc.message}; trying again in {delay:g}s")
                self.draining.wait(delay)
        # A poll answered after the drain began brought a task that is already this worker's.
        if self._poll is not None and self._poll.task is not None:
            self._take_answer()
        self._leave()
        return 0

    def shutdown(self) -> None:
        self.draining.set()
        self._woken.set()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            threading.Thread(target=self.shutdown, name="shutdown", daemon=True).start()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _take_answer(self) -> None:
        poll = self._poll
        if poll is None or not poll.done:
            return
        self._poll = None
        task = poll.result()
        if task is not None:
            self._submit(task)

    # ----- taking a task ----------------------------------------------------------------

    def _submit(self, task: Mapping[str, Any]) -> None:
        task_id = str(task["id"])
        resources = Resources.from_dict(task.get("resources") or {})
        job = JobRequest(
            task_id=task_id,
            name=str(task.get("name") or task_id),
            resources=resources,
            command=[*self.command, "--id", task_id, "--stop-grace", f"{self.stop_grace:g}"],
            env=self._job_environment(str(task.get("task_key") or "")),
            image=str((task.get("execution") or {}).get("docker_image") or ""),
        )
        try:
            job_id = self.backend.submit(job)
        except LaunchError as exc:
            _say(f"task {task_id}: {self.backend.name} refused the job: {exc.message}")
            self._end(
                task_id, TaskStatus.FAILED, f"{self.backend.name} refused the job: {exc.message}"
            )
            return
        self.jobs[task_id] = _Job(task_id, job_id, state="SUBMITTED")
        _say(f"task {task_id} submitted as {self.backend.name} job {job_id}")
        asked = f" ({resources.describe()})" if resources.requested() else ""
        self._console(task_id, f"submitted as {self.backend.name} job {job_id}{asked}")
        self._record_launch(self.jobs[task_id])

    def _job_environment(self, task_key: str) -> dict[str, str]:
        """This process's variables without any of Tunelab's (the launcher's own key among
        them), and the task's: its key, the server, the scheduler's name."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNELAB_")}
        env["TUNELAB_API_URL"] = str(self.client.api_url)
        env["TUNELAB_API_TOKEN"] = task_key
        env[SCHEDULER_VARIABLE] = self.backend.name
        env["PYTHONUNBUFFERED"] = "1"
        return env

    # ----- following the jobs -----------------------------------------------------------

    def _check(self) -> None:
        """Heartbeat (stop requests become cancels), then the jobs' states."""
        running = next(iter(self.jobs), None)
        stops = self.client.heartbeat(self.worker_id, running).get("stop", [])
        for task_id in stops:
            job = self.jobs.get(task_id)
            if job is not None and job.stop_asked is None:
                self._cancel(job)
        if not self.jobs:
            return
        try:
            states = self.backend.states([job.job_id for job in self.jobs.values()])
        except LaunchError as exc:
            _say(f"could not read the jobs' states: {exc.message}; trying again")
            return
        for job in list(self.jobs.values()):
            state = states.get(job.job_id)
            if state is None:
                gone = f"the job is gone from {self.backend.name}"
                state = JobState("UNKNOWN", gone, finished=True, failure=gone)
            cost = state.cost or job.cost  # a launcher started again may not know it
            if (state.state, state.reason, cost) != (job.state, job.reason, job.cost):
                job.state, job.reason, job.cost = state.state, state.reason, cost
                self._record_launch(job)
            if state.finished:
                self._finished(job, state)
            elif self._past_grace(job):
                job.killed = True
                self.backend.kill(job.job_id)

    def _past_grace(self, job: _Job) -> bool:
        """Whether a job asked to stop outlived the grace period (it is killed then)."""
        asked = job.stop_asked
        return asked is not None and not job.killed and time.monotonic() - asked > self.stop_grace

    def _cancel(self, job: _Job) -> None:
        task = self.client.get_task(job.task_id)
        job.stop_asked = time.monotonic()
        job.stop_reason = str(task.get("status_reason") or "") or "stopped on request"
        _say(f"task {job.task_id}: stop requested, cancelling {self.backend.name} job {job.job_id}")
        try:
            self.backend.cancel(
                job.job_id, self.stop_grace, pending=job.state in ("PENDING", "SUBMITTED")
            )
        except LaunchError as exc:  # the kill after the grace period still comes
            _say(f"task {job.task_id}: could not cancel job {job.job_id}: {exc.message}")

    def _finished(self, job: _Job, state: JobState) -> None:
        """The job ended: the task ends too if its script did not record its end."""
        del self.jobs[job.task_id]
        if job.stop_asked is not None:
            status, reason = TaskStatus.STOPPED, job.stop_reason
        elif state.failure:
            status, reason = TaskStatus.FAILED, state.failure
        else:
            code = f", exit code {state.exit_code}" if state.exit_code else ""
            status = TaskStatus.FAILED
            reason = (
                f"the {self.backend.name} job ended ({state.state.lower()}{code}) before "
                "the task reported its end"
            )
        ended = self._end(job.task_id, status, reason)
        _say(
            f"task {job.task_id}: {self.backend.name} job {job.job_id} {state.state}; task {ended}"
        )

    def _end(self, task_id: str, status: TaskStatus, reason: str) -> str:
        """Record the outcome if the task still runs (the script may have ended it)."""
        for _ in range(5):
            try:
                current = self.client.get_task(task_id)
                if current["status"] != TaskStatus.RUNNING:
                    return str(current["status"])
                if status is not TaskStatus.STOPPED:
                    self._console(task_id, f"task {status.value}: {reason}")
                self.client.update_task(task_id, status=status.value, status_reason=reason)
                return status.value
            except Conflict:
                continue  # lost a race with another change: read again
            except NotFound:
                return "deleted"
        return "unknown"

    def _record_launch(self, job: _Job) -> None:
        launch = Launch(
            backend=self.backend.name,
            job_id=job.job_id,
            state=job.state,
            reason=job.reason[:256],
            launcher=self.worker_id,
            updated=time.time(),
            cost=job.cost[:64],
        )
        # The task may have ended or gone meanwhile: then there is nothing to record.
        with contextlib.suppress(Conflict, NotFound):
            self.client.update_task(job.task_id, launch=launch.to_dict())

    def _console(self, task_id: str, text: str) -> None:
        line = {"stream": "log", "text": f"tunelab launcher: {text}", "ts": time.time()}
        try:
            self.client.post_console(task_id, [line])
        except TunelabError as exc:
            _say(f"task {task_id}: could not write to its console: {exc.message}")

    # ----- register, find the jobs again, leave -----------------------------------------

    def _find_jobs(self) -> None:
        """The jobs this worker's running tasks are in (a restarted launcher's)."""
        found = self.client.list_tasks(status=["running"], page_size=500)["items"]
        for item in found:
            if item.get("worker") != self.worker_id:
                continue
            launch = Launch.from_dict(self.client.get_task(item["id"]).get("launch") or {})
            if launch.job_id and launch.backend == self.backend.name:
                self.jobs[item["id"]] = _Job(
                    item["id"], launch.job_id, launch.state, launch.reason, cost=launch.cost
                )

    def _register(self) -> None:
        self.client.register_worker(
            self.worker_id, [self.queue], host=socket.gethostname(), jobs=list(self.jobs)
        )

    def _leave(self) -> None:
        if self.jobs:
            # Their tasks stay this worker's: the launcher started again follows them.
            count = f"{len(self.jobs)} job{'s' if len(self.jobs) > 1 else ''}"
            _say(f"{count} left to {self.backend.name}; start me again to follow them")
            return
        try:
            self.client.unregister_worker(self.worker_id)
        except TunelabError as exc:
            _say(f"could not unregister worker {self.worker_id}: {exc.message}")

    def _retrying(self, call: Any) -> None:
        for failures in range(1000):
            try:
                call()
                return
            except ServerUnavailable as exc:
                if self.draining.is_set():
                    raise
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                _say(f"{exc.message}; trying again in {delay:g}s")
                self.draining.wait(delay)
