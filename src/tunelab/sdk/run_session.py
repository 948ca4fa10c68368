"""Everything that runs while a script is recorded: the background reporter, the console
capture, the exit hooks and the capture of source code and packages."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from tunelab.domain.task import TaskStatus
from tunelab.sdk.config import SdkConfig
from tunelab.sdk.console import ConsoleCapture
from tunelab.sdk.reporter import Reporter
from tunelab.sdk.run_exit import RunExit


class RunSession:
    """Owns the live parts of the current run; ``close`` ends the run with a status."""

    def __init__(self, client: Any, task_id: str, config: SdkConfig, *, capture_console: bool) -> None:
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
        )
        self.console = ConsoleCapture(self.reporter.add_console)
        self._capture_console = capture_console
        self.exit = RunExit(self._on_exit)
        self._closed = False
        self._close_lock = threading.Lock()
        self.before_close: list[Any] = []  # callables run just before the final flush
        self.offline_folder: Path | None = None
        self._watcher: threading.Thread | None = None
        self._stop_watching = threading.Event()

    def watch(self, check: Any, interval: float = 2.0) -> None:
        """Run ``check`` every ``interval`` seconds until the run closes (e.g. connected dicts)."""
        if self._watcher is not None:
            return

        def loop() -> None:
            while not self._stop_watching.wait(interval):
                try:
                    check()
                except Exception as exc:  # never let a watcher kill the user's run
                    print(f"tunelab: {exc}", file=sys.stderr)

        self._watcher = threading.Thread(target=loop, name="tunelab-watch", daemon=True)
        self._watcher.start()

    def start(self) -> None:
        if self._capture_console:
            self.console.install()
        self.exit.install()

    def call(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Queue an API call behind the points already reported (order is kept)."""
        self.reporter.call(method, *args, **kwargs)

    def _on_exit(self, status: TaskStatus, reason: str) -> None:
        self.close(status, reason)

    def close(self, status: TaskStatus = TaskStatus.COMPLETED, reason: str = "") -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._stop_watching.set()
        for hook in self.before_close:
            try:
                hook()
            except Exception as exc:  # a failing hook must not lose the run's data
                print(f"tunelab: while closing the task: {exc}", file=sys.stderr)
        self.console.uninstall()
        self.reporter.call("update_task", self.task_id, status=status.value, status_reason=reason)
        self.reporter.close()
        if self.offline_folder is not None:
            print(
                f"tunelab: offline session recorded in {self.offline_folder}; "
                f"upload it with: tunelab sync {self.offline_folder}",
                file=sys.stderr,
            )


def script_path() -> Path | None:
    """The running script (``python train.py`` -> train.py), or None in a REPL."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return Path(path).resolve() if path else None
