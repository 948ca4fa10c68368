"""Background uploads: a run's artifacts and model files go to storage on their own thread,
so training never waits for the network; large transfers print their progress.

Example::

    uploads = Uploads()
    uploads.submit(lambda: storage.upload(path, uri, ctx), label="artifact 'features'")
    uploads.wait()          # at the end of the run: every upload done (or reported failed)
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TextIO

OnFailure = Callable[[Exception], None]
# Transfers smaller than this finish too fast for progress lines to help.
PROGRESS_MIN_BYTES = 8 * 1024 * 1024


class Uploads:
    """One worker thread running upload jobs in order. A job submitted with a ``key`` (a model
    file saved again every epoch) replaces a job with the same key that has not started: only
    the newest version of a file is worth sending."""

    def __init__(self, report: Callable[[str], None] | None = None) -> None:
        self._report = report or _print_stderr
        self._pending: OrderedDict[object, tuple[str, Callable[[], None], OnFailure | None]] = (
            OrderedDict()
        )
        self._lock = threading.Condition()
        self._running = 0
        self._thread: threading.Thread | None = None
        self.failures: list[str] = []

    def submit(
        self,
        job: Callable[[], None],
        *,
        label: str,
        key: object = None,
        on_failure: OnFailure | None = None,
    ) -> None:
        """Run ``job`` in the background; ``label`` names it in progress and error lines,
        ``on_failure(exc)`` hears of its failure (the task records it)."""
        with self._lock:
            slot = key if key is not None else object()
            self._pending.pop(slot, None)
            self._pending[slot] = (label, job, on_failure)
            if self._thread is None:
                # Not a daemon: a script that ends without Task.close still finishes its uploads.
                self._thread = threading.Thread(target=self._work, name="tunelab-uploads")
                self._thread.start()
            self._lock.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted job has run; False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending or self._running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def finish_before_shutdown(self) -> None:
        """When the script ends, finish the uploads before Python starts shutting down.

        Once it has begun, thread pools refuse work and imports that register exit hooks
        fail, and the S3 client needs both (its DNS lookups run in a pool). Python runs
        ``threading``'s exit hooks newest first, before the pools' own hook, so the pools
        still serve these last uploads.
        """
        import concurrent.futures.thread  # noqa: F401 - its exit hook must come before ours

        threading._register_atexit(self.wait)  # type: ignore[attr-defined]

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._pending or self._running)

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    # Idle: the thread ends, and the next submit starts a new one. A live
                    # thread with nothing to do would keep the interpreter from exiting.
                    self._thread = None
                    self._lock.notify_all()
                    return
                _, (label, job, on_failure) = self._pending.popitem(last=False)
                self._running += 1
            try:
                job()
            except Exception as exc:  # an upload failing must never end the user's run
                message = f"upload of {label} failed: {exc}"
                self.failures.append(message)
                self._report(message)
                if on_failure is not None:
                    try:
                        on_failure(exc)
                    except Exception as again:
                        self._report(f"could not record the failed upload of {label}: {again}")
            finally:
                with self._lock:
                    self._running -= 1
                    self._lock.notify_all()


class Progress:
    """``progress(done, total)`` callback printing a line at every tenth of a large transfer."""

    def __init__(self, verb: str, label: str, report: Callable[[str], None] | None = None) -> None:
        self._verb = verb
        self._label = label
        self._report = report or _print_stderr
        self._next_tenth = 1

    def __call__(self, done: int, total: int) -> None:
        if total < PROGRESS_MIN_BYTES:
            return
        tenth = done * 10 // total
        if tenth < self._next_tenth:
            return
        self._next_tenth = tenth + 1
        self._report(
            f"{self._verb} {self._label}: {_mb(done)} of {_mb(total)} ({done * 100 // total}%)"
        )


def _mb(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"


def _print_stderr(message: str, stream: TextIO | None = None) -> None:
    print(f"tunelab: {message}", file=stream or sys.stderr, flush=True)
