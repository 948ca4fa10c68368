"""The agent's main loop: register as a worker, take tasks from the queues, run one at a time.

Taking is a long poll (``POST /workers/{id}/next``) over the worker's queues in the order
given, which is their priority; the server hands each task to exactly one worker, and answers
a waiting poll as soon as one is enqueued. SIGTERM (or Ctrl-C) once drains: the current task
finishes, no new one is taken, the worker unregisters and the agent exits 0. An idle agent
leaves its poll at once (the poll runs on a thread of its own, which the drain stops waiting
for; the server ends the poll when the connection closes), and a task the server handed over
in that poll before the drain is still run, being already this worker's. A second SIGTERM
stops the current task now: it is marked ``stopped``, never ``completed``, and its processes
get the stop grace period.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any

from tunelab.agent.heartbeat import Heartbeat
from tunelab.agent.runner import TaskRunner
from tunelab.domain.terminal_text import plain
from tunelab.errors import NotFound, ServerUnavailable, TunelabError
from tunelab.sdk.secrets import process_masker

# Waits between tries while the server does not answer; the last repeats. Short, so that a
# server back up (or another replica) is reached within seconds.
RETRY_DELAYS = (0.5, 1.0, 2.0, 3.0)
# How long registering keeps trying before the agent gives up.
REGISTER_PATIENCE = 60.0
# One long poll's wait. Long, because an idle agent's whole cost to the server is one short
# read per poll (nothing while it waits, and an enqueue wakes it at once whatever this
# value); under the 30 s after which some proxies drop a silent request.
POLL_TIMEOUT = 25.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _say(text: str) -> None:
    # os.write, not print: this may run inside a signal handler, mid-print of the main thread.
    # Masked: a task's name or a server's message may hold a secret, and this is a log.
    line = process_masker().mask_text(f"tunelab agent: {plain(text)}\n")
    os.write(sys.stderr.fileno(), line.encode(errors="replace"))


class AgentDaemon:
    """A worker serving ``queues`` (first = highest priority).

    >>> daemon = AgentDaemon(client, "gpu-box:0", ["gpu", "default"], runner,
    ...                      Heartbeat(client, "gpu-box:0"))
    >>> daemon.install_signal_handlers()
    >>> daemon.serve()  # until SIGTERM  # doctest: +SKIP
    0
    """

    def __init__(
        self,
        client: Any,
        worker_id: str,
        queues: Sequence[str],
        runner: TaskRunner,
        heartbeat: Heartbeat,
        poll_timeout: float = POLL_TIMEOUT,
    ) -> None:
        self.client = client
        self.worker_id = worker_id
        self.queues = list(queues)
        self.runner = runner
        self.heartbeat = heartbeat
        heartbeat.beat_while_idle = False  # each poll tells the server this worker is alive
        self.poll_timeout = poll_timeout
        self.draining = threading.Event()
        # Set by a poll's answer and by the drain: whichever comes first ends the wait.
        self._woken = threading.Event()
        self._poll: _Poll | None = None
        self._signals = 0
        self._signals_lock = threading.Lock()
        heartbeat.on_stop = heartbeat.on_stop or runner.request_stop
        heartbeat.on_unknown_worker = heartbeat.on_unknown_worker or self.register

    def register(self) -> None:
        # The task this process runs, if any: registering again mid-task (the server forgot
        # this worker) keeps it, while a restarted agent names none and its orphan fails.
        self.client.register_worker(
            self.worker_id, self.queues, host=socket.gethostname(), task_id=self.heartbeat.task_id
        )

    def serve(self) -> int:
        """Take and run tasks until drained; the exit code."""
        self._with_retries(self.register)
        _say(f"worker {self.worker_id} serves the queues {', '.join(self.queues)}")
        self.runner.send_kept_console()  # what an earlier agent on this work dir kept
        self.heartbeat.start()
        try:
            failures = 0
            while not self.draining.is_set():
                try:
                    task = self._next_task()
                    failures = 0
                except NotFound:
                    self._with_retries(self.register)  # the server forgot this worker
                    continue
                except ServerUnavailable as exc:
                    delay = retry_delay(failures)
                    failures += 1
                    _say(f"{exc.message}; trying again in {delay:g}s")
                    self.draining.wait(delay)
                    continue
                if task is not None:
                    self._run(task)
            # The poll left behind by the drain may have been answered with a task meanwhile.
            task = self._poll.task if self._poll is not None else None
            if task is not None:
                self._run(task)
        finally:
            self._leave()
        return 0

    def _next_task(self) -> Mapping[str, Any] | None:
        """The task the next poll answers; None when it answers none or the agent drains
        first (the poll is then left to end when this process does)."""
        self._woken.clear()
        poll = self._poll = _Poll(self.client, self.worker_id, self.poll_timeout, self._woken)
        if not self.draining.is_set():
            self._woken.wait()
        if not poll.done:
            return None
        self._poll = None
        return poll.result()

    def execute(self, task_id: str) -> str:
        """Run one task now (a draft or queued one), whatever queue it is in; its status."""
        self._with_retries(self.register)
        try:
            task = self.client.start_task(task_id, self.worker_id)
            self.heartbeat.start()
            return self._run(task)
        finally:
            self._leave()

    def shutdown(self) -> None:
        """What SIGTERM does: drain the first time, stop the current task the second."""
        with self._signals_lock:
            self._signals += 1
            first = self._signals == 1
        self.draining.set()
        self._woken.set()
        if first:
            _say("draining: finishing the current task, taking no new one")
            return
        task_id = self.runner.current_task_id
        if task_id is not None:
            _say(f"stopping task {task_id} now")
            self.runner.request_stop(task_id, "the agent was shut down")

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            # The handler interrupts the main thread anywhere, maybe holding a lock that
            # shutdown needs: a thread of its own does the work.
            threading.Thread(target=self.shutdown, name="shutdown", daemon=True).start()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _run(self, task: Mapping[str, Any]) -> str:
        task_id = str(task["id"])
        _say(f"took task {task_id} ({task.get('name', '')})")
        self.heartbeat.task_id = task_id
        try:
            status = self.runner.run(task)
        except Exception as exc:  # the agent outlives any one task
            _say(f"task {task_id} could not be run to its end: {exc!r}")
            return "unknown"
        finally:
            self.heartbeat.task_id = None
        _say(f"task {task_id} {status}")
        return status

    def _leave(self) -> None:
        self.heartbeat.stop()
        try:
            self.client.unregister_worker(self.worker_id)
        except TunelabError as exc:
            _say(f"could not unregister worker {self.worker_id}: {exc.message}")

    def _with_retries(self, call: Any) -> None:
        deadline = time.monotonic() + REGISTER_PATIENCE
        for failures in itertools.count():
            try:
                call()
                return
            except ServerUnavailable as exc:
                delay = retry_delay(failures)
                if time.monotonic() + delay > deadline or self.draining.is_set():
                    raise
                _say(f"{exc.message}; trying again in {delay:g}s")
                self.draining.wait(delay)


def retry_delay(failures: int) -> float:
    """The wait after ``failures`` tries in a row went unanswered."""
    return RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]


class _Poll:
    """One long poll on a thread of its own, so that a drain need not wait for its end."""

    def __init__(self, client: Any, worker_id: str, timeout: float, done: threading.Event):
        self.done = False
        self._task: Mapping[str, Any] | None = None
        self._error: BaseException | None = None
        self._signal = done
        thread = threading.Thread(
            target=self._take, args=(client, worker_id, timeout), name="poll", daemon=True
        )
        thread.start()

    @property
    def task(self) -> Mapping[str, Any] | None:
        """The task it was answered with, if it was."""
        return self._task if self.done else None

    def result(self) -> Mapping[str, Any] | None:
        """The answer once ``done``: the task or None, or what the poll raised."""
        if self._error is not None:
            raise self._error
        return self._task

    def _take(self, client: Any, worker_id: str, timeout: float) -> None:
        try:
            self._task = client.next_task(worker_id, timeout)
        except BaseException as exc:  # handed to the main thread, which knows what to do
            self._error = exc
        finally:
            self.done = True
            self._signal.set()
