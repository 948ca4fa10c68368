"""A task's output on its way to the server: lines are masked (no secret is stored), batched
and sent every ~0.5 s.

Each batch carries an id, and a failed send is retried with the same id, so the server stores
it once however often it arrives. Retries are bounded: after ``max_attempts`` the batch is
dropped (and the drop reported on the agent's stderr); the buffer is bounded too, keeping the
newest lines, so a server that is down cannot make the agent run out of memory.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections import deque
from typing import Any

from tunelab.errors import TunelabError
from tunelab.sdk.secrets import Masker, process_masker

MAX_LINE_CHARS = 16 * 1024


class ConsoleSink:
    """Collects ``(stream, text)`` lines for one task and posts them in batches.

    >>> sink = ConsoleSink(client, task_id).start()
    >>> sink.write("stdout", "epoch 1: loss 0.3")
    >>> sink.close()  # sends what is left
    """

    def __init__(
        self,
        client: Any,
        task_id: str,
        interval: float = 0.5,
        max_batch_lines: int = 2000,
        max_buffered_lines: int = 100_000,
        max_attempts: int = 5,
        masker: Masker | None = None,
    ) -> None:
        self.client = client
        # The script's lines and the agent's own: neither may carry the token (or another
        # secret of the environment) into the task's console.
        self._mask = (masker if masker is not None else process_masker()).mask_text
        self.task_id = task_id
        self.interval = interval
        self.max_batch_lines = max_batch_lines
        self.max_attempts = max_attempts
        self._pending: deque[dict[str, Any]] = deque(maxlen=max_buffered_lines)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def start(self) -> ConsoleSink:
        self._thread = threading.Thread(target=self._loop, name="console-sink", daemon=True)
        self._thread.start()
        return self

    def write(self, stream: str, text: str) -> None:
        line = {"stream": stream, "text": self._mask(text)[:MAX_LINE_CHARS], "ts": time.time()}
        with self._lock:
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1  # the oldest line makes room
            self._pending.append(line)

    def __call__(self, stream: str, text: str) -> None:
        self.write(stream, text)

    def log(self, text: str) -> None:
        """A line of the agent's own (``stream`` "log"): what it builds and why it stops."""
        self.write("log", text)

    def close(self, timeout: float = 30.0) -> None:
        """Send every line still buffered (giving up after ``timeout`` seconds)."""
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self._flush(deadline=time.monotonic() + timeout)

    def _loop(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self._flush()
        self._flush()

    def _flush(self, deadline: float | None = None) -> None:
        while True:
            with self._lock:
                batch = [
                    self._pending.popleft()
                    for _ in range(min(self.max_batch_lines, len(self._pending)))
                ]
            if not batch:
                return
            self._send(batch, uuid.uuid4().hex)
            if deadline is not None and time.monotonic() > deadline:
                return

    def _send(self, batch: list[dict[str, Any]], batch_id: str) -> None:
        delay = 0.25
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.client.post_console(self.task_id, batch, batch_id=batch_id)
                return
            except TunelabError as exc:
                if attempt == self.max_attempts or 400 <= getattr(exc, "status", 500) < 500:
                    self.dropped += len(batch)
                    print(
                        f"tunelab agent: {len(batch)} console lines of task {self.task_id} "
                        f"were not stored: {exc.message}",
                        file=sys.stderr,
                    )
                    return
            time.sleep(delay)
            delay = min(delay * 2, 4.0)
