"""How a run ends: ``completed`` on a normal exit, ``failed`` on an uncaught exception,
``stopped`` on Ctrl-C or SIGTERM. Installs the hooks once, for the current task."""

from __future__ import annotations

import atexit
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from tunelab.domain.task import TaskStatus
from tunelab.sdk.capture_warnings import guarded

OnExit = Callable[[TaskStatus, str], None]  # (final status, reason)


class RunExit:
    def __init__(self, on_exit: OnExit) -> None:
        self._on_exit = on_exit
        self._status = TaskStatus.COMPLETED
        self._reason = ""
        self._done = False
        self._previous_excepthook = sys.excepthook
        self._previous_sigterm: Any = None
        self._original_exit = sys.exit
        self.abort_callbacks: list[Callable[[], Any]] = []

    def install(self) -> None:
        sys.excepthook = self._excepthook
        sys.exit = self._exit  # type: ignore[assignment]
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        atexit.register(self.finish)

    def mark(self, status: TaskStatus, reason: str = "") -> None:
        self._status, self._reason = status, reason

    def disarm(self) -> None:
        """The run was handed on: exiting now must not give it a final status."""
        self._done = True

    def finish(self) -> None:
        if self._done:
            return
        self._done = True
        with guarded("the end of the run"):  # never an error of its own at the script's exit
            self._on_exit(self._status, self._reason)

    def _exit(self, code: Any = None) -> None:
        # A script that ends with sys.exit(N != 0) failed, even without a traceback.
        with guarded("the run's exit status"):
            if code not in (None, 0) and self._status is TaskStatus.COMPLETED:
                self.mark(TaskStatus.FAILED, f"exit code {code}")
        self._original_exit(code)

    def _excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        with guarded("the run's exit status"):
            if issubclass(kind, KeyboardInterrupt):
                self.mark(TaskStatus.STOPPED, "interrupted (Ctrl-C)")
            else:
                self.mark(TaskStatus.FAILED, f"{kind.__name__}: {exc}")
        # The default hook prints the traceback to stderr, which the console capture copies.
        self._previous_excepthook(kind, exc, tb)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self._status is not TaskStatus.STOPPED:
            self.mark(TaskStatus.STOPPED, "terminated (SIGTERM)")
        # An agent stopping the task sends SIGTERM and waits a grace period: the script's
        # abort callbacks (save a checkpoint...) run now, inside it.
        for callback in self.abort_callbacks:
            try:
                callback()
            except Exception as exc:
                print(f"tunelab: abort callback failed: {exc!r}", file=sys.stderr)
        previous = self._previous_sigterm
        if callable(previous):
            previous(signum, frame)
        # SystemExit unwinds the script's finally blocks, then atexit closes the task.
        raise SystemExit(128 + signum)
