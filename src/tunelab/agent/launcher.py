"""Running a task's process: its own process group, its output line by line, a graceful stop.

The child starts a new session, so it and everything it spawns (data loader workers, shells)
share one process group that ``stop`` signals as a whole: SIGTERM first, SIGKILL once the
grace period is over. Whatever the group still holds when the child exits is killed too, so a
run leaves nothing behind. stdout and stderr are read by two threads, each passing its lines
in order to ``sink(stream, text)``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

Sink = Callable[[str, str], None]  # (stream, text)

MAX_LINE_BYTES = 64 * 1024
# What a task's process is told, beyond the agent's own environment.
TASK_VARIABLES = (
    "TUNELAB_TASK_ID", "TUNELAB_API_URL", "TUNELAB_API_TOKEN", "TUNELAB_AGENT", "PYTHONUNBUFFERED",
)  # fmt: skip
READER_JOIN_TIMEOUT = 5.0


def task_environment(
    task_id: str,
    api_url: str,
    base: Mapping[str, str] | None = None,
    token: str | None = None,
) -> dict[str, str]:
    """The variables a task's process runs with: which task it is, where the server is, and
    ``token``, the task's own key (minted by the server when the task was taken). The
    agent's own key never gets there, not even inherited from the agent's environment."""
    env = dict(os.environ if base is None else base)
    env.pop("TUNELAB_API_TOKEN", None)
    env.update(
        {
            "TUNELAB_TASK_ID": task_id,
            "TUNELAB_API_URL": api_url,
            "TUNELAB_AGENT": "1",  # the agent captures the console; the SDK must not
            "PYTHONUNBUFFERED": "1",
        }
    )
    if token:
        env["TUNELAB_API_TOKEN"] = token
    return env


def _load_prctl() -> Any:
    # Resolved now, not in the forked child, where only async-signal-safe work is allowed.
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """In the child: SIGTERM when the agent dies, even by SIGKILL, so a killed agent
    leaves no script running for a task the server has already marked "worker lost"."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Launcher:
    """One process: ``start``, then ``wait`` for its exit code, or ``stop`` it.

    >>> launcher = Launcher([python, "train.py"], cwd=work_dir, env=env, sink=print)
    >>> launcher.start()
    >>> launcher.wait()  # doctest: +SKIP
    0
    """

    def __init__(
        self, command: Sequence[str], cwd: Path, env: Mapping[str, str], sink: Sink
    ) -> None:
        self.command = list(command)
        self.cwd = Path(cwd)
        self.env = dict(env)
        self.sink = sink
        self._proc: subprocess.Popen[bytes] | None = None
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, which stop() signals whole
            preexec_fn=_end_with_parent,
        )
        for stream, pipe in (("stdout", self._proc.stdout), ("stderr", self._proc.stderr)):
            assert pipe is not None
            reader = threading.Thread(
                target=self._read, args=(stream, pipe), name=f"launcher-{stream}", daemon=True
            )
            reader.start()
            self._readers.append(reader)

    def poll(self) -> int | None:
        """The exit code, or None while the process runs."""
        return self.wait(timeout=0) if self._exited() else None

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: killed by that signal), once the output is all read."""
        proc = self._require()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._exited(block=deadline is None):
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.command, timeout or 0.0)
            time.sleep(0.02)
        with self._lock:
            if proc.returncode is None:
                # Still a zombie, so its pid (the group's id) cannot be reused yet: kill the
                # run's leftovers, which would also hold the output pipes open.
                self._signal_group(signal.SIGKILL)
            code = proc.wait()
        for reader in self._readers:
            reader.join(READER_JOIN_TIMEOUT)
        return code

    def stop(self, grace: float) -> int:
        """SIGTERM to the whole group; SIGKILL after ``grace`` seconds. The exit code."""
        if not self._exited():
            with self._lock:
                if self._require().returncode is None:
                    self._signal_group(signal.SIGTERM)
            deadline = time.monotonic() + grace
            while not self._exited() and time.monotonic() < deadline:
                time.sleep(0.02)
        with self._lock:
            if self._require().returncode is None:
                self._signal_group(signal.SIGKILL)  # the grace is over (or the group lingers)
        return self.wait()

    def _exited(self, block: bool = False) -> bool:
        """Whether the child has exited, without reaping it (WNOWAIT)."""
        proc = self._require()
        if proc.returncode is not None:
            return True
        flags = os.WEXITED | os.WNOWAIT | (0 if block else os.WNOHANG)
        try:
            return os.waitid(os.P_PID, proc.pid, flags) is not None
        except ChildProcessError:
            return True  # reaped by another waiter

    def _signal_group(self, signum: int) -> None:
        # The group's id is the child's pid; no such group means it is gone already.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._require().pid, signum)

    def _read(self, stream: str, pipe: IO[bytes]) -> None:
        with pipe:
            while True:
                raw = pipe.readline(MAX_LINE_BYTES)
                if not raw:
                    return
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if "\r" in text:
                    # A progress bar redraws its line: keep what a terminal would show.
                    text = next((part for part in reversed(text.split("\r")) if part), "")
                self.sink(stream, text)

    def _require(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise RuntimeError("the launcher was not started")
        return self._proc


def entry_point_argument(entry_point: str, working_dir: str) -> str:
    """The script as the recorded run named it: relative to the working dir it ran in.

    Both are recorded relative to the repository root (``train/main.py`` run from ``train``
    is ``main.py``).
    """
    if os.path.isabs(entry_point):
        return entry_point
    return os.path.relpath(entry_point or ".", working_dir or ".")
