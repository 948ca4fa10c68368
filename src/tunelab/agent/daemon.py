"""The agent's main loop: register as a worker, take tasks from the queues, run one at a time.

Taking is a long poll (``POST /workers/{id}/next``) over the worker's queues in the order
given, which is their priority; the server hands each task to exactly one worker. SIGTERM (or
Ctrl-C) once drains: the current task finishes, no new one is taken, the worker unregisters
and the agent exits 0 (an idle agent exits when its current poll ends, within
``poll_timeout`` seconds, 5 by default; a task the server hands over in that poll is still
run, being already this worker's). A second SIGTERM stops the current task now: it is marked
``stopped``, never ``completed``, and its processes get the stop grace period.
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
from tunelab.errors import NotFound, ServerUnavailable, TunelabError
from tunelab.sdk.secrets import process_masker

# Waits between tries while the server does not answer; the last repeats. Short, so that a
# server back up (or another replica) is reached within seconds.
RETRY_DELAYS = (0.5, 1.0, 2.0, 3.0)
# How long registering keeps trying before the agent gives up.
REGISTER_PATIENCE = 60.0
# One long poll's wait. Short, because a poll in flight cannot be abandoned safely (the
# server may hand this worker a task at that very moment), so an idle agent drains only when
# its poll ends; and cheap: a poll costs the server one short transaction, nothing while it
# waits, and an enqueue wakes it at once whatever this value.
POLL_TIMEOUT = 5.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _say(text: str) -> None:
    # os.write, not print: this may run inside a signal handler, mid-print of the main thread.
    # Masked: a task's name or a server's message may hold a secret, and this is a log.
    line = process_masker().mask_text(f"tunelab agent: {text}\n")
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
                    task = self.client.next_task(self.worker_id, self.poll_timeout)
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
        finally:
            self._leave()
        return 0

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
