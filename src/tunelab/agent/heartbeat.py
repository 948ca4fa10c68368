"""The worker's heartbeat: a thread telling the server every few seconds that it is alive and
which task it runs, and passing on the stop requests the server answers with.

A worker silent for longer than the server's worker timeout is gone (its running task fails
with "worker lost"), so the beat goes on whatever the task does, builds included.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from tunelab.domain.terminal_text import plain
from tunelab.errors import NotFound, TunelabError
from tunelab.sdk.secrets import process_masker

OnStop = Callable[[str], None]
# After a beat went unanswered the next one comes sooner than the interval (when that is
# longer): a server back up, or another replica, hears from the worker within seconds.
RETRY_AFTER_FAILURE = 2.0
IDLE_CHECK = 0.5


class Heartbeat:
    """Beats every ``interval`` seconds once started; ``on_stop(task_id)`` hears stop requests.

    >>> heartbeat = Heartbeat(client, "gpu-box:0", on_stop=runner.request_stop)
    >>> heartbeat.start()
    >>> heartbeat.task_id = task["id"]  # while running it
    """

    def __init__(
        self,
        client: Any,
        worker_id: str,
        interval: float = 5.0,
        on_stop: OnStop | None = None,
        on_unknown_worker: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.worker_id = worker_id
        self.interval = interval
        self.on_stop = on_stop
        self.on_unknown_worker = on_unknown_worker
        self.task_id: str | None = None
        # False where the worker's long polls already say it is alive while it has no task
        # (the daemon): an idle worker then costs the server one poll, not a poll and a beat.
        self.beat_while_idle = True
        self.stop_requests: set[str] = set()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        if self._thread is None:
            self._halt.clear()
            self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(60)  # a beat in flight ends within the client's timeout
            self._thread = None

    def beat(self) -> list[str]:
        """One heartbeat now; the ids of the tasks the server wants stopped."""
        task_id = self.task_id
        try:
            answer = self.client.heartbeat(self.worker_id, task_id)
        except NotFound:
            # The server forgot this worker (it timed out, or the server was reset).
            if self.on_unknown_worker is not None:
                self.on_unknown_worker()
            return []
        stop = [str(t) for t in answer.get("stop", [])]
        for requested in stop:
            if requested not in self.stop_requests:
                self.stop_requests.add(requested)
                if self.on_stop is not None:
                    self.on_stop(requested)
        return stop

    def _loop(self) -> None:
        while not self._halt.is_set():
            wait = min(self.interval, RETRY_AFTER_FAILURE)
            if self.task_id is None and not self.beat_while_idle:
                # Costs nothing; a task taken meanwhile gets its first beat within the slice.
                self._halt.wait(min(self.interval, IDLE_CHECK))
                continue
            try:
                self.beat()
                wait = self.interval
            except TunelabError as exc:
                _say(f"heartbeat failed: {exc.message}")
            except Exception as exc:  # the beat must outlive any surprise
                _say(f"heartbeat failed: {exc!r}")
            self._halt.wait(wait)


def _say(text: str) -> None:
    # An error's text may quote what was sent: never a secret in the agent's log.
    print(process_masker().mask_text(f"tunelab agent: {plain(text)}"), file=sys.stderr)
