"""The background sender: points, console lines, plots and API calls reach the server in
order, exactly once, without slowing the training loop and without losing data when the
server is away.

Example::

    reporter = Reporter(client, task_id, spool_path=Path("~/.tunelab/spool/ID.jsonl"))
    for i in range(1000):
        reporter.add_scalar("loss", "train", 1 / (i + 1), i)     # extends a list; returns
    reporter.call("set_user_properties", task_id, {"owner": {"value": "me", "type": "str"}})
    reporter.close()                                              # bounded final flush

How it works. ``add_scalar`` extends the flat list of its (metric, variant) with
``(value, iteration, time)``; no lock, no check. ``add_plot`` appends a plot the logger
checked. A daemon thread wakes every ``flush_interval`` (sooner once ``max_batch_points``
wait), cuts the buffers, packs the points with ``scalar_wire`` into batches of at most
``max_batch_points`` points, each with a fresh ``batch_id``, and sends them; console lines
and plots likewise; queued calls keep their place between them. After ``heartbeat_interval``
seconds with nothing sent, it pings the task instead: the server fails a run without an
agent that stays silent past its task timeout (a process killed too hard to say so).
Each request runs on a second thread (``wire``) while the sender cuts and packs the points
reported meanwhile, so packing overlaps the server's work. A batch keeps its ``batch_id``
for every retry, so one the server stored before its answer was lost is stored once.

When the server does not answer (or answers 5xx) everything unsent is appended to the
spool file (the session-log format) and retried with exponential backoff; once the server
answers, the spool is replayed in order and emptied. A 4xx answer means the data or the
call is wrong: one line on stderr and the operation is dropped. ``close`` waits at most
``exit_timeout``; whatever is still unsent is then in the spool, which ``tunelab sync``
uploads.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import uuid
from collections import deque
from pathlib import Path
from time import monotonic
from time import time as _now
from typing import Any, Literal

from tunelab.domain.storable_text import storable, storable_text
from tunelab.errors import TunelabError
from tunelab.sdk import capture_warnings, session_log
from tunelab.sdk.scalar_batches import Cut, SeriesBuffers, pack_batches
from tunelab.sdk.session_log import Op, WriteClient
from tunelab.sdk.wire import Wire

CONSOLE_STREAMS = frozenset({"stdout", "stderr", "log"})

_POLL = 0.05  # how often the sender looks at the buffer's length
# While a batch is on the wire, the sender cuts the buffers ahead once a tenth of a batch
# waits: enough points to be worth a request of their own.
_AHEAD_FRACTION = 10
_CONSOLE_BATCH_LINES = 2000
# A plot batch is cut at this many plots or this much JSON (one plot is at most 4 MB), well
# under the server's body limit.
_PLOT_BATCH_PLOTS = 100
_PLOT_BATCH_BYTES = 16 * 1024 * 1024
# Capped low: a server back up (or another replica) gets the data within seconds.
_BACKOFF_FIRST, _BACKOFF_CAP = 0.2, 2.0
_MAX_WARNINGS = 10
_RECORD_WARNINGS = "record_capture_warnings"

Outcome = Literal["sent", "dropped", "retry"]


class ReporterClosed(RuntimeError):
    """A call queued after the reporter closed: nothing sends it any more."""


class _Raw:
    """Points, console lines or plots cut from the buffers, packed into ops by the sender."""

    __slots__ = ("console", "plots", "scalars")

    def __init__(
        self,
        scalars: Cut | None = None,
        console: list[Any] | None = None,
        plots: list[dict[str, Any]] | None = None,
    ) -> None:
        self.scalars = scalars
        self.console = console
        self.plots = plots


class Reporter:
    def __init__(
        self,
        client: WriteClient,
        task_id: str,
        *,
        flush_interval: float = 0.5,
        max_batch_points: int = 200_000,
        spool_path: Path,
        exit_timeout: float = 10.0,
        heartbeat_interval: float = 30.0,
    ) -> None:
        self.task_id = task_id
        self.spool_path = Path(spool_path).expanduser()
        self.exit_timeout = exit_timeout
        self._client = client
        self._flush_interval = flush_interval
        self._max_points = max_batch_points
        self._buffers = SeriesBuffers()
        self._series = self._buffers.extends  # the hot path's dict: (metric, variant) -> extend
        self._console: list[tuple[str, str, float]] = []
        self._plots: list[dict[str, Any]] = []
        # Re-entrant for the same reason as the console's: the exit path runs on the main
        # thread, which a KeyboardInterrupt may have left holding it.
        self._lock = threading.RLock()
        self._flushed = threading.Condition(self._lock)
        self._queue: deque[Op | _Raw] = deque()
        self._wake = threading.Event()
        self._flush_requested = 0
        self._flush_done = 0
        self._closed = False
        self._abandoned = False  # set by close(): the sender must leave the spool alone
        self._spooled = False  # the spool file holds ops not yet sent
        self._replayed_lines = 0  # spool lines sent during the current replay
        self._retry_at = 0.0
        self._backoff = _BACKOFF_FIRST
        self._warnings = 0
        self._outage_reported = False
        self._heartbeat_interval = heartbeat_interval
        self._last_contact = monotonic()  # the last answer from the server (sender's clock)
        self._adopt_spool()
        self._wire: Wire[Op, Outcome] = Wire(self._send)
        self._thread = threading.Thread(target=self._run, name="tunelab-reporter", daemon=True)
        self._thread.start()

    # ----- called by the program ------------------------------------------------------

    def add_scalar(self, title: str, series: str, value: float, iteration: int) -> None:
        """Record one point of the ``title``/``series`` curve; returns at once.

        This is ``Logger.report_scalar`` itself, the training loop's hot path: a dict lookup
        and a list extend."""
        try:
            self._series[title, series]((value, iteration, _now()))
        except KeyError:
            self._buffers.new_series(title, series)((value, iteration, _now()))

    def last_iteration(self) -> int:
        """The highest iteration of the points cut for sending so far (the system metrics'
        own aside): what the resource monitor reports against."""
        return self._buffers.last_iteration

    def user_reported(self) -> bool:
        """Whether the script reported any scalar (the system metrics aside)."""
        return self._buffers.user_reported()

    def add_console(self, stream: str, text: str) -> None:
        """Record console output (``stdout``, ``stderr`` or ``log``)."""
        if stream not in CONSOLE_STREAMS:
            raise ValueError(f"stream must be one of {sorted(CONSOLE_STREAMS)}, got {stream!r}")
        self._console.append((stream, text, _now()))

    def add_plot(self, plot: dict[str, Any]) -> None:
        """Record a plot already checked by ``tunelab.domain.plots.check_plot``."""
        self._plots.append(plot)

    def call(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Queue a client call, e.g. ``call("update_task", task_id, status="completed")``.

        It is sent after everything reported before it. Bad arguments raise here. Text
        the stores cannot hold is cleaned (``storable_text``): a parameter named with a NUL
        must not cost the others sent with it.
        """
        op = session_log.op_for_call(method, *storable(args), **storable(kwargs))
        with self._lock:
            # While close() still sends, a refusal it meets is recorded as a warning too.
            closing = method == _RECORD_WARNINGS and not self._abandoned
            if self._closed and not closing:
                raise ReporterClosed(f"the reporter of task {self.task_id} is closed")
            self._cut_locked()
            self._queue.append(op)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything reported so far is sent; False if ``timeout`` ran out."""
        deadline = None if timeout is None else monotonic() + timeout
        with self._lock:
            if self._nothing_pending_locked():
                return True
            if self._abandoned:
                return False
            self._flush_requested += 1
            target = self._flush_requested
            self._wake.set()
            while self._flush_done < target:
                remaining = 0.5 if deadline is None else deadline - monotonic()
                if remaining <= 0 or self._abandoned or not self._thread.is_alive():
                    return False
                self._flushed.wait(min(remaining, 0.5))
            return True

    def close(self, timeout: float | None = None) -> None:
        """Final flush, at most ``timeout`` (default ``exit_timeout``) seconds; what is left
        unsent is kept in the spool file, and one line on stderr says how to upload it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        deadline = monotonic() + (self.exit_timeout if timeout is None else timeout)
        # Loop while other threads still report: each flush covers what came before it.
        while self.flush(max(0.0, deadline - monotonic())):
            with self._lock:
                if self._nothing_pending_locked():
                    break
        with self._lock:
            self._abandoned = True
            self._cut_locked()
            leftover = [op for item in self._queue for op in self._pack(item)]
            self._queue.clear()
            try:
                if self._replayed_lines:
                    session_log.drop_head(self.spool_path, self._replayed_lines)
                session_log.append_ops(self.spool_path, leftover)
            except OSError as exc:
                self._print(
                    f"tunelab: {len(leftover)} operations for task {self.task_id} "
                    f"were lost: cannot write {self.spool_path}: {exc}"
                )
                return
            self._flushed.notify_all()
        self._wake.set()
        self._thread.join(timeout=max(0.0, deadline - monotonic()) + 0.1)
        unsent = session_log.count_ops(self.spool_path)
        if unsent:
            self._print(
                f"tunelab: {unsent} operations for task {self.task_id} were not sent; "
                f"kept in {self.spool_path} — upload with: tunelab sync {self.spool_path}"
            )
        elif self.spool_path.exists():
            self.spool_path.unlink(missing_ok=True)

    # ----- the sender thread ----------------------------------------------------------

    def _run(self) -> None:
        last = monotonic()
        while not self._abandoned:
            woke = self._wake.wait(_POLL)
            if woke:  # clearing after a timeout could erase a flush request made meanwhile
                self._wake.clear()
            now = monotonic()
            due = (
                woke
                or now - last >= self._flush_interval
                or self._buffers.pending() >= self._max_points
                or (self._spooled and now >= self._retry_at)
            )
            if not due or self._abandoned:
                continue
            last = now
            try:
                self._cycle()
                if monotonic() - self._last_contact >= self._heartbeat_interval:
                    self._ping()
            except Exception as exc:  # the program must never see the sender fail
                self._warn(f"the background sender failed: {exc!r}")
        self._wire.close()

    def _cycle(self) -> None:
        with self._lock:
            target = self._flush_requested
            self._cut_locked()
            if self._spooled:
                self._spool_queue_locked()
            owed = len(self._queue)  # this cycle ends once these are sent
        if self._spooled and monotonic() >= self._retry_at:
            self._replay()
        if not self._spooled:
            owed = self._send_queue(owed)
        with self._lock:
            if owed == 0 and not self._spooled:
                self._flush_done = max(self._flush_done, target)
                self._flushed.notify_all()
            more = self._queue or self._buffers.pending() >= self._max_points
            if more and not self._spooled:
                self._wake.set()  # calls queued or a batch's worth reported meanwhile: go on

    def _send_queue(self, owed: int) -> int:
        """Send the queue's first ``owed`` items in order (a raw item counts as the ops it is
        packed into); returns how many are left, 0 unless the server failed or close() came.

        While one op is on the wire, the next points are cut and packed (``_pack_ahead``),
        so on two cores the packing overlaps the server's work. Items queued meanwhile wait
        for the next cycle: a program that keeps reporting cannot hold a flush forever."""
        while owed:
            with self._lock:
                if self._abandoned or not self._queue:
                    return owed
                head = self._queue[0]
            if isinstance(head, _Raw):
                owed += self._expand(0, head)
                continue
            self._wire.start(head)
            try:
                grown = self._pack_ahead(owed)
            finally:
                outcome = self._wire.wait()
            owed += grown
            with self._lock:
                if self._abandoned:
                    return owed
                if outcome == "retry":
                    self._spool_queue_locked()
                    self._spooled = True
                    self._schedule_retry()
                    return owed
                self._queue.popleft()
                owed -= 1
        return owed

    def _pack_ahead(self, owed: int) -> int:
        """Pack the first raw item behind the head (the op on the wire), cutting the buffers
        first if there is none and a tenth of a batch waits; returns by how many items the
        first ``owed`` grew."""
        with self._lock:
            if self._abandoned:
                return 0
            found = next(
                ((i, item) for i, item in enumerate(self._queue) if isinstance(item, _Raw)), None
            )
            if found is None and self._buffers.pending() * _AHEAD_FRACTION >= self._max_points:
                cut = self._cut_locked()
                if cut is not None:
                    found = (len(self._queue) - 1, cut)
            if found is None:
                return 0
            index, raw = found
        grown = self._expand(index, raw)
        return grown if index < owed else 0

    def _expand(self, index: int, raw: _Raw) -> int:
        """Replace the raw item at ``index`` by its ops; returns how many items that added.

        Packing runs outside the lock (the program may call() meanwhile, which only appends);
        only this thread removes or replaces items, unless close() took everything."""
        ops = self._pack(raw)
        with self._lock:
            if self._abandoned:
                return 0
            self._queue.rotate(-index)
            self._queue.popleft()
            self._queue.extendleft(reversed(ops))
            self._queue.rotate(index)
        return len(ops) - 1

    def _replay(self) -> None:
        complete = True
        for index, op in session_log.iter_ops(self.spool_path):
            if self._abandoned or self._send(op) == "retry":
                complete = False
                break
            self._replayed_lines = index + 1
        with self._lock:
            if self._abandoned:
                return
            if complete:
                session_log.truncate(self.spool_path)
                self._spooled = False
                self._backoff = _BACKOFF_FIRST
                if self._outage_reported:
                    self._print(
                        f"tunelab: {self._client_name()} answers again; the data kept in "
                        f"{self.spool_path} was sent"
                    )
                self._outage_reported = False
            else:
                if self._replayed_lines:
                    session_log.drop_head(self.spool_path, self._replayed_lines)
                self._schedule_retry()
            self._replayed_lines = 0

    def _ping(self) -> None:
        """Tell the server the run is alive; an offline client has nobody to tell, and while
        the server is away the replay of the spool is what will reach it first."""
        ping = getattr(self._client, "ping_task", None)
        self._last_contact = monotonic()
        if ping is None or self._spooled:
            return
        # A lost ping costs nothing: the next one, or the next batch, says the same.
        with contextlib.suppress(Exception):
            ping(self.task_id)

    def _send(self, op: Op) -> Outcome:
        try:
            session_log.apply(self._client, op)
            self._last_contact = monotonic()
        except TunelabError as exc:
            if exc.status >= 500:  # includes ServerUnavailable: no answer at all
                if not self._outage_reported:
                    self._outage_reported = True
                    self._print(
                        f"tunelab: {exc.message}; keeping data in {self.spool_path} and retrying"
                    )
                return "retry"
            self._lost(op, f"the server refused it, so it was dropped: {exc.message}")
            return "dropped"
        except Exception as exc:  # bad data that cannot even be encoded: drop it, go on
            self._lost(op, f"it could not be sent, so it was dropped: {exc!r}")
            return "dropped"
        return "sent"

    # ----- buffers, queue and spool (callers hold the lock) -------------------------------

    def _cut_locked(self) -> _Raw | None:
        """Queue what was reported so far as one raw item, and return it (None: nothing)."""
        scalars = self._buffers.cut()
        # Only the lines present now are taken; appends racing with this stay in the list.
        count = len(self._console)
        console = self._console[:count]
        del self._console[:count]
        count = len(self._plots)
        plots = self._plots[:count]
        del self._plots[:count]
        if not (scalars or console or plots):
            return None
        raw = _Raw(scalars, console, plots)
        self._queue.append(raw)
        return raw

    def _spool_queue_locked(self) -> None:
        ops = [op for item in self._queue for op in self._pack(item)]
        self._queue.clear()
        try:
            session_log.append_ops(self.spool_path, ops)
        except BaseException:
            self._queue.extend(ops)  # keep them (and their batch ids) for the next attempt
            raise

    def _nothing_pending_locked(self) -> bool:
        return not (
            self._queue or self._spooled or self._console or self._plots or self._buffers.pending()
        )

    def _schedule_retry(self) -> None:
        self._retry_at = monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, _BACKOFF_CAP)

    def _adopt_spool(self) -> None:
        """A spool left by an earlier run of this task is sent first (minus lines synced)."""
        try:
            done = int(session_log.read_progress(self.spool_path).get("done_lines", 0))
            if done and self.spool_path.exists():
                session_log.drop_head(self.spool_path, done)
            session_log.progress_path(self.spool_path).unlink(missing_ok=True)
            self._spooled = session_log.count_ops(self.spool_path) > 0
        except Exception as exc:
            self._warn(f"cannot read the spool file {self.spool_path}: {exc}")

    def _pack(self, item: Op | _Raw) -> list[Op]:
        """The ops for a queue item: scalar batches of at most ``max_batch_points`` points
        and console batches, each with a fresh batch id."""
        if isinstance(item, Op):
            return [item]
        ops: list[Op] = []
        if item.scalars:
            batches, dropped = pack_batches(item.scalars, self._max_points)
            if dropped and self._counted():
                self._record(
                    f"{dropped} scalar point{'s' if dropped > 1 else ''}",
                    "a value that is not a number, or an iteration that is not a 64-bit "
                    "integer; dropped",
                )
            ops.extend(Op("scalars", self.task_id, {"series": b}, _batch_id()) for b in batches)
        if item.console:
            # A surrogate without its pair (a file name decoded with ``surrogateescape``)
            # cannot travel as UTF-8: it would cost the whole batch.
            lines = [{"stream": s, "text": storable_text(t), "ts": ts} for s, t, ts in item.console]
            for i in range(0, len(lines), _CONSOLE_BATCH_LINES):
                chunk = lines[i : i + _CONSOLE_BATCH_LINES]
                ops.append(Op("console", self.task_id, {"lines": chunk}, _batch_id()))
        for chunk in _plot_batches(item.plots or []):
            ops.append(Op("plots", self.task_id, {"plots": chunk}, _batch_id()))
        return ops

    def _lost(self, op: Op, why: str) -> None:
        """``op`` was dropped: say so on the task too (a capture warning, seen on its Info
        tab), unless what was dropped was the warnings themselves."""
        if op.op == _RECORD_WARNINGS:
            self._warn(f"{_describe(op)}: {why}")
        elif self._counted():
            self._record(_describe(op), why)

    def _record(self, what: str, why: str) -> None:
        """A capture warning of this reporter's task (not of whichever run the process
        holds now), queued behind what was reported before it."""
        entry = capture_warnings.warning(what, why)
        self._print(f"tunelab: could not capture {entry['what']}: {entry['reason']}")
        with contextlib.suppress(ReporterClosed):  # the line above is all there is
            self.call(_RECORD_WARNINGS, self.task_id, [entry])

    def _warn(self, message: str) -> None:
        if self._counted():
            self._print(f"tunelab: {message}")

    def _counted(self) -> bool:
        """Count one warning of the sender; False once too many were shown."""
        self._warnings += 1
        if self._warnings == _MAX_WARNINGS + 1:
            self._print("tunelab: further warnings of the background sender are not shown")
        return self._warnings <= _MAX_WARNINGS

    def _client_name(self) -> str:
        return str(getattr(self._client, "base_url", "the server"))

    @staticmethod
    def _print(line: str) -> None:
        # The real stderr: a console capture would send our own warnings back to the server.
        stream = sys.__stderr__ or sys.stderr
        with contextlib.suppress(OSError, ValueError):
            print(line, file=stream, flush=True)


def _batch_id() -> str:
    return uuid.uuid4().hex


def _plot_batches(plots: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = []
    size = 0
    for plot in plots:
        plot_size = len(json.dumps(plot["data"], separators=(",", ":")))
        if (
            not batches
            or len(batches[-1]) >= _PLOT_BATCH_PLOTS
            or size + plot_size > _PLOT_BATCH_BYTES
        ):
            batches.append([])
            size = 0
        batches[-1].append(plot)
        size += plot_size
    return batches


def _describe(op: Op) -> str:
    return f"{op.op} of task {op.task_id}" + (f" (batch {op.batch_id})" if op.batch_id else "")
