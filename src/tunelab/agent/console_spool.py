"""A task's console batches on the agent's disk while the server does not take them.

The file is a session log (``tunelab.sdk.session_log``, the format of the SDK's own spool):
one ``console`` operation per line, each with the batch id it was first sent with, so a batch
the server stored before its answer was lost is stored once when it is sent again. It lives
in the agent's work dir (``<work-dir>/console-spool/<task id>.jsonl``), not in memory:

- the sink replays it, in order, as soon as the server answers again, and empties it;
- it is capped (``max_bytes``): past the cap the sink keeps the newest lines in memory and
  says how many it dropped, in the agent's log and in the task's console;
- a file an agent left behind (killed during an outage, or the final wait ran out) is sent
  by the next agent on that work dir before its next task (``deliver_leftovers``), or by
  hand with ``tunelab sync FILE``.

Agents may share a work dir (one per GPU): a sink holds a lock on its task's spool
(``FILE.lock``, an ``flock`` the system drops when the process dies) from its first write to
its end, and ``deliver_leftovers`` passes over a spool whose lock is held.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import sys
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

from tunelab.errors import TunelabError
from tunelab.sdk import session_log
from tunelab.sdk.secrets import process_masker
from tunelab.sdk.session_log import Op

SUFFIX = ".jsonl"
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def spool_path(folder: Path, task_id: str) -> Path:
    """The spool file of ``task_id`` in ``folder`` (an id unfit for a file name is hashed)."""
    name = task_id if _SAFE_ID.fullmatch(task_id) else hashlib.sha256(task_id.encode()).hexdigest()
    return folder / f"{name}{SUFFIX}"


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class ConsoleSpool:
    """The console batches of one task not yet stored by the server, oldest first.

    Only the sink's sender thread uses it, so it needs no lock of its own.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        # Ops (and the lines they hold) in the file: counted once here, kept up to date after.
        self.ops = 0
        self.lines = 0
        self._size = 0
        self._owned: IO[str] | None = None
        try:
            if path.exists():
                self._own()
            # A file left behind and sent in part (by `tunelab sync`) starts past that part.
            done = int(session_log.read_progress(path).get("done_lines", 0))
            if done and path.exists():
                session_log.drop_head(path, done)
            session_log.progress_path(path).unlink(missing_ok=True)
            self._size = path.stat().st_size if path.exists() else 0
            for _, op in self.batches():
                self.ops += 1
                self.lines += len(op.args.get("lines", []))
        except (OSError, ValueError, TunelabError) as exc:
            agent_log(f"cannot read the console spool {path}: {exc}")

    def __bool__(self) -> bool:
        return self.ops > 0

    def append(self, op: Op, past_cap: bool = False) -> bool:
        """Write ``op`` (fsynced); False, writing nothing, when the cap does not leave room
        (an empty spool takes one batch whatever its size, so no batch is too big to keep;
        ``past_cap``: the last lines of a sink that gives up, bounded by its memory).
        OSError when the disk refuses."""
        size = len(op.to_line())
        if self.ops and self._size + size > self.max_bytes and not past_cap:
            return False
        self._own()
        session_log.append_ops(self.path, [op])
        self._size += size
        self.ops += 1
        self.lines += len(op.args["lines"])
        return True

    def batches(self) -> Generator[tuple[int, Op]]:
        """``(line index in the file, op)``, oldest first; damaged lines are skipped."""
        yield from session_log.iter_ops(self.path)

    def forget(self, file_lines: int, ops: int, lines: int) -> None:
        """The file's first ``file_lines`` lines (``ops`` batches of ``lines`` console lines
        in all) are stored: forget them; the file goes once empty."""
        if ops >= self.ops:
            self.path.unlink(missing_ok=True)
            self._size = self.ops = self.lines = 0
        elif file_lines > 0:
            session_log.drop_head(self.path, file_lines)
            self._size = self.path.stat().st_size
            self.ops -= ops
            self.lines -= lines

    def release(self) -> None:
        """The sink is done: others may send what is left (the lock goes with an empty spool)."""
        if self._owned is not None:
            if not self.ops:
                _lock_path(self.path).unlink(missing_ok=True)
            self._owned.close()
            self._owned = None

    def _own(self) -> None:
        if self._owned is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(_lock_path(self.path), "a")  # noqa: SIM115 - held until release()
            fcntl.flock(handle, fcntl.LOCK_EX)  # another agent may be sending it: wait
            self._owned = handle


def deliver_leftovers(client: Any, folder: Path, skip: Path | None = None) -> None:
    """Send the spool files earlier runs left in ``folder`` (but ``skip``), each file
    deleted once sent; a server that does not answer leaves them for the next call.

    A file sent in part (by ``tunelab sync`` too) resumes where it stopped."""
    from tunelab.sdk.offline import sync_session  # the replay `tunelab sync` does

    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        if path == skip:
            continue
        with open(_lock_path(path), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live sink's (this agent's or another's on this work dir)
            try:
                if session_log.count_ops(path):
                    sync_session(path, client)
                    agent_log(f"sent the console lines kept in {path}")
            except TunelabError as exc:
                if exc.status >= 500:
                    return  # not now: the next task tries again
                agent_log(f"the console kept in {path} could not be sent: {exc.message}")
                continue  # kept for `tunelab sync`
            except OSError as exc:
                agent_log(f"the console kept in {path} could not be read: {exc}")
                continue
            path.unlink(missing_ok=True)
            session_log.progress_path(path).unlink(missing_ok=True)


def agent_log(text: str) -> None:
    """A line on the agent's stderr (its log), masked: a server's message or a path may
    quote a secret."""
    line = process_masker().mask_text(f"tunelab agent: {text}")
    print(line, file=sys.stderr, flush=True)
