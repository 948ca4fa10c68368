"""Everything that runs while a script is recorded: the background reporter, the console
capture, the exit hooks and the capture of source code and packages."""

from __future__ import annotations

import _thread
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunelab.domain.task import TaskStatus
from tunelab.sdk import capture_warnings, input_fitting
from tunelab.sdk.capture_warnings import warn
from tunelab.sdk.config import SdkConfig
from tunelab.sdk.console import ConsoleCapture
from tunelab.sdk.reporter import Reporter, ReporterClosed
from tunelab.sdk.run_exit import RunExit


class RunSession:
    """Owns the live parts of the current run; ``close`` ends the run with a status."""

    def __init__(
        self, client: Any, task_id: str, config: SdkConfig, *, capture_console: bool
    ) -> None:
        self.client = client
        self.task_id = task_id
        self.config = config
        self.reporter = Reporter(
            client,
            task_id,
            flush_interval=config.flush_interval,
            max_batch_points=config.max_batch_points,
            spool_path=config.spool_dir / f"{task_id}.jsonl",
            exit_timeout=config.exit_timeout,
            heartbeat_interval=config.heartbeat_interval,
        )
        self.console = ConsoleCapture(self.reporter.add_console)
        self._capture_console = capture_console
        self.exit = RunExit(self._on_exit)
        self._closed = False
        self._close_lock = threading.Lock()
        self.before_close: list[Any] = []  # callables run just before the final flush
        self.offline_folder: Path | None = None
        # Set when the server was unreachable at the start: True once the folder is uploaded.
        self.upload_when_back: Callable[[], bool] | None = None
        self.under_agent = False  # an agent records the final status (see _end)
        self._watcher: threading.Thread | None = None
        self._checks: list[Any] = []
        self.watch_interval = 2.0
        self._stop_watching = threading.Event()

    def watch(self, check: Any) -> None:
        """Run ``check`` every few seconds until the run closes (connected dicts, stop requests)."""
        if check in self._checks:
            return
        self._checks.append(check)
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="tunelab-watch", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        while not self._stop_watching.wait(self.watch_interval):
            for check in list(self._checks):
                try:
                    check()
                except Exception as exc:  # never let a watcher kill the user's run
                    print(f"tunelab: {exc}", file=sys.stderr)

    def watch_stop_requests(self) -> None:
        """Without an agent, nobody else ends this run when it is stopped from the API or the
        web app: look for the request and end the run as SIGTERM would."""

        def check() -> None:
            data = self.client.get_task(self.task_id)
            # "stopped": the server ended the task when the request went unanswered too long.
            if data.get("stop_requested") or data.get("status") == "stopped":
                self._stop_watching.set()
                self.exit.mark(TaskStatus.STOPPED, "stop requested")
                _thread.interrupt_main(signal.SIGTERM)

        self.watch(check)

    def detach(self) -> None:
        """Send everything and let go of the run without giving it a final status
        (``execute_remotely`` hands the task to an agent)."""
        self._end(None)
        self.exit.disarm()

    def abandon(self, error: BaseException) -> None:
        """The start failed with ``error``: end the run failed (stopped on Ctrl-C) with it,
        now, and leave the process's exit alone."""
        self.exit.disarm()
        if isinstance(error, KeyboardInterrupt):
            final = (TaskStatus.STOPPED, "interrupted (Ctrl-C) while starting")
        else:
            final = (TaskStatus.FAILED, f"Task.init failed: {type(error).__name__}: {error}")
        try:
            self._end(final)
        except Exception as exc:  # the start's own error is the one to raise
            print(f"tunelab: could not end the task {self.task_id}: {exc}", file=sys.stderr)

    def start(self) -> None:
        if self._capture_console:
            self.console.install()
        self.exit.install()

    def call(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Queue an API call behind the points already reported (order is kept). Once the
        run has ended, nothing is queued any more: the call goes to the server at once, as
        for a task read back (``set_comment`` after ``close``). Inputs (hyperparameters,
        user properties, configuration objects) are fitted to the server's limits first,
        whoever sends them: the task's methods and the argument captures alike."""
        if len(args) == 2:  # (task id, inputs): fitted to what the server stores
            args = (args[0], input_fitting.fitted(method, args[1]))
        try:
            self.reporter.call(method, *args, **kwargs)
        except ReporterClosed:
            if self.offline_folder is not None:
                raise ReporterClosed(
                    f"the offline run of task {self.task_id} has ended: its folder "
                    f"{self.offline_folder} takes nothing more"
                ) from None
            getattr(self.client, method)(*args, **kwargs)

    def _run_before_close(self) -> None:
        for hook in self.before_close:
            try:
                hook()
            except Exception as exc:  # a failing hook must not lose the run's data
                warn("the end of the run", exc)

    def _on_exit(self, status: TaskStatus, reason: str) -> None:
        self.close(status, reason)

    def close(self, status: TaskStatus = TaskStatus.COMPLETED, reason: str = "") -> None:
        if self._end((status, reason)) and self.offline_folder is not None:
            if self.upload_when_back is not None and self.upload_when_back():
                return
            print(
                f"tunelab: offline session recorded in {self.offline_folder}; "
                f"upload it with: tunelab sync {self.offline_folder}",
                file=sys.stderr,
            )

    def _end(self, final: tuple[TaskStatus, str] | None) -> bool:
        """Stop watching, run the hooks, send everything (with the final status, if any).
        False when the run had already ended."""
        with self._close_lock:
            if self._closed:
                return False
            self._closed = True
        self._stop_watching.set()
        self._run_before_close()
        self.console.uninstall()
        if final is not None:
            status, reason = final
            if self.under_agent:
                # The agent sets the final status once it has posted all of the script's
                # output, so a final status never comes before the last console lines. A
                # failure's own reason ("ValueError: ...") is still the best one: leave it.
                if status is TaskStatus.FAILED and reason:
                    self.reporter.call("update_task", self.task_id, status_reason=reason)
            else:
                self.reporter.call(
                    "update_task", self.task_id, status=status.value, status_reason=reason
                )
        self.reporter.close()
        # Later warnings wait for the next run of this process, and are printed for it again.
        capture_warnings.disconnect()
        return True


def script_path() -> Path | None:
    """The running script (``python train.py`` -> train.py), or None in a REPL."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return Path(path).resolve() if path else None
