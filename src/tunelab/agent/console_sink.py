"""A task's output on its way to the server: lines are masked (no secret is stored), batched
and sent every ~0.5 s; while the server does not answer, they wait on the agent's disk.

Each batch carries an id that it keeps however often it is sent, so the server stores it
once. A batch the server does not take (no answer, or a 5xx) starts an outage: it and every
line printed after it are appended to the task's spool file (``console_spool``), and the
spool is replayed in order, with backoff, until the server takes it all; then the sink sends
live again. A 4xx means the batch itself is wrong: it is dropped, with a line on the agent's
stderr.

Nothing is dropped silently. The spool is capped (``max_spool_bytes``); once it is full, the
newest ``max_buffered_lines`` lines wait in memory and older ones make room. How many were
dropped is said on the agent's stderr when it starts, and in the task's console, by a line
where the gap is. ``close`` waits a bounded time for the spool to be delivered and returns
how many lines were not; those stay in the file for the next agent on this work dir (or
``tunelab sync FILE``).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Literal

from tunelab.agent.console_spool import ConsoleSpool, agent_log
from tunelab.errors import TunelabError
from tunelab.sdk.secrets import Masker, process_masker
from tunelab.sdk.session_log import Op

MAX_LINE_CHARS = 16 * 1024
SPOOL_MEGABYTES = 100
_BACKOFF_FIRST, _BACKOFF_CAP = 0.25, 2.0
# What close() waits, past its timeout, for a request already on the wire to end.
_CLOSE_GRACE = 5.0

Outcome = Literal["sent", "dropped", "retry"]


class ConsoleSink:
    """Collects ``(stream, text)`` lines for one task and posts them in batches.

    >>> spool = work_dir / "console-spool" / f"{task_id}.jsonl"
    >>> sink = ConsoleSink(client, task_id, spool_path=spool).start()
    >>> sink.write("stdout", "epoch 1: loss 0.3")
    >>> sink.close()  # sends what is left; 0: every line is stored
    0
    """

    def __init__(
        self,
        client: Any,
        task_id: str,
        *,
        spool_path: Path,
        interval: float = 0.5,
        max_batch_lines: int = 2000,
        max_buffered_lines: int = 100_000,
        max_spool_bytes: int = SPOOL_MEGABYTES * 1024 * 1024,
        masker: Masker | None = None,
    ) -> None:
        self.client = client
        # The script's lines and the agent's own: neither may carry the token (or another
        # secret of the environment) into the task's console.
        self._mask = (masker if masker is not None else process_masker()).mask_text
        self.task_id = task_id
        self.interval = interval
        self.max_batch_lines = max_batch_lines
        self.max_buffered_lines = max_buffered_lines
        self.dropped = 0
        self._pending: deque[dict[str, Any]] = deque()
        self._evicted = 0  # lines dropped from memory since the last batch was cut
        self._gap_in_cut = 0  # how many dropped lines the last cut's first line stands for
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._given_up = threading.Event()
        self._thread: threading.Thread | None = None
        # A spool an earlier run of this task left is sent first.
        self._spool = ConsoleSpool(Path(spool_path), max_spool_bytes)
        self._away = bool(self._spool)  # the server did not take the last batch
        self._retry_at = 0.0
        self._backoff = _BACKOFF_FIRST
        self._disk_full_said = False
        self._dropping_said = False
        self._last_error = ""

    @property
    def spool_path(self) -> Path:
        return self._spool.path

    def start(self) -> ConsoleSink:
        self._thread = threading.Thread(target=self._loop, name="console-sink", daemon=True)
        self._thread.start()
        return self

    def write(self, stream: str, text: str) -> None:
        line = {"stream": stream, "text": self._mask(text)[:MAX_LINE_CHARS], "ts": time.time()}
        with self._lock:
            self._pending.append(line)
            if len(self._pending) > self.max_buffered_lines:
                self._pending.popleft()  # the oldest line makes room
                self._evicted += 1
                self.dropped += 1
                first, self._dropping_said = not self._dropping_said, True
            else:
                first = False
        if first:
            agent_log(
                f"the console of task {self.task_id} is dropping lines: more than "
                f"{self.max_buffered_lines} wait in memory"
                + (f" and the spool {self._spool.path} is full" if self._away else "")
            )

    def __call__(self, stream: str, text: str) -> None:
        self.write(stream, text)

    def log(self, text: str) -> None:
        """A line of the agent's own (``stream`` "log"): what it builds and why it stops."""
        self.write("log", text)

    def close(self, timeout: float = 30.0) -> int:
        """Send every line still buffered or spooled, waiting at most ``timeout`` seconds
        for a server that is away; how many lines were not delivered (they stay in
        ``spool_path``)."""
        self._closing.set()
        self._wake.set()
        if self._thread is None:
            self.start()
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._given_up.set()
            self._wake.set()
            self._thread.join(_CLOSE_GRACE)
        with self._lock:
            return self._spool.lines + len(self._pending)

    # ----- the sender thread ----------------------------------------------------------

    def _loop(self) -> None:
        try:
            self._send_until_closed()
        finally:
            self._spool.release()

    def _send_until_closed(self) -> None:
        while not self._given_up.is_set():
            try:
                self._pump()
            except Exception as exc:  # the sender must outlive a bug, or lines pile up unsaid
                agent_log(f"the console sender of task {self.task_id} failed: {exc!r}")
            if self._closing.is_set() and self._delivered():
                return
            wait = self.interval
            if self._away:
                wait = min(wait, max(0.0, self._retry_at - time.monotonic()))
            elif self._closing.is_set():
                wait = 0.05  # a lost race with a last write: send it now
            if self._wake.wait(wait):
                self._wake.clear()
        # Given up: what memory holds goes to the spool, for the next agent or `tunelab sync`.
        with contextlib.suppress(Exception):
            self._spool_pending(past_cap=True)

    def _pump(self) -> None:
        if self._away and (time.monotonic() < self._retry_at or not self._replay()):
            self._spool_pending()  # still away: new lines wait on disk, behind the others
            return
        while not self._given_up.is_set():
            op = self._cut()
            if op is None:
                return
            if self._send(op) == "retry":
                self._outage(op)
                self._spool_pending()
                return

    def _delivered(self) -> bool:
        with self._lock:
            return not (self._away or self._pending or self._spool)

    def _cut(self) -> Op | None:
        with self._lock:
            if not self._pending:
                return None
            count = min(self.max_batch_lines, len(self._pending))
            lines = [self._pending.popleft() for _ in range(count)]
            # Where lines were dropped, a line of the agent's says how many.
            self._gap_in_cut, self._evicted = self._evicted, 0
            if self._gap_in_cut:
                gap = f"tunelab agent: {self._gap_in_cut} lines of output were dropped here"
                reason = "more than the agent keeps while the server does not take them"
                lines.insert(0, {"stream": "log", "text": f"{gap} ({reason})", "ts": time.time()})
        return Op("console", self.task_id, {"lines": lines}, uuid.uuid4().hex)

    def _put_back(self, op: Op) -> None:
        """The lines of the last cut, kept nowhere, return to memory in front (their batch
        id is lost: they were not stored), the gap they began with counted again."""
        lines = op.args["lines"][1:] if self._gap_in_cut else op.args["lines"]
        with self._lock:
            self._pending.extendleft(reversed(lines))
            self._evicted += self._gap_in_cut
            self._gap_in_cut = 0

    def _keep(self, op: Op, past_cap: bool = False) -> bool:
        """Append ``op`` to the spool; False (the op is back in memory) when it is full or
        the disk refuses."""
        try:
            if self._spool.append(op, past_cap):
                self._disk_full_said = False
                return True
            problem = f"its cap of {self._spool.max_bytes // (1024 * 1024)} MB is reached"
        except OSError as exc:
            problem = f"it cannot be written: {exc}"
        self._put_back(op)
        if not self._disk_full_said:
            self._disk_full_said = True
            agent_log(
                f"the console spool {self._spool.path} of task {self.task_id} takes no more "
                f"lines ({problem}); the newest {self.max_buffered_lines} wait in memory"
            )
        return False

    def _spool_pending(self, past_cap: bool = False) -> None:
        while (op := self._cut()) is not None:
            if not self._keep(op, past_cap):
                return

    def _outage(self, op: Op) -> None:
        """The server did not take ``op``: keep it (the same batch id) and wait to retry."""
        self._away = True
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, _BACKOFF_CAP)
        if not self._keep(op):
            return
        if self._spool.ops == 1:
            agent_log(
                f"{self._last_error}; keeping the console of task {self.task_id} in "
                f"{self._spool.path} and retrying"
            )

    def _replay(self) -> bool:
        """Send the spool, oldest first; False (what was sent forgotten) if the server is
        still away."""
        sent, lines, file_lines = 0, 0, 0
        complete = True
        with contextlib.closing(self._spool.batches()) as ops:
            for index, op in ops:
                if self._given_up.is_set() or self._send(op) == "retry":
                    complete = False
                    break
                sent, lines, file_lines = sent + 1, lines + len(op.args["lines"]), index + 1
        self._spool.forget(file_lines, sent, lines)
        if not complete:
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, _BACKOFF_CAP)
            return False
        with self._lock:
            self._away = False
            self._dropping_said = False
        self._backoff = _BACKOFF_FIRST
        if lines:
            agent_log(
                f"the server answers again; sent {lines} console lines of task {self.task_id}"
            )
        return True

    def _send(self, op: Op) -> Outcome:
        lines = op.args["lines"]
        try:
            self.client.post_console(self.task_id, lines, batch_id=op.batch_id)
            return "sent"
        except TunelabError as exc:
            if exc.status >= 500:  # no answer at all, or a server that cannot store now
                self._last_error = exc.message
                return "retry"
            self.dropped += len(lines)
            agent_log(
                f"{len(lines)} console lines of task {self.task_id} were not stored: {exc.message}"
            )
            return "dropped"
