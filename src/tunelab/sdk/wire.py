"""One call at a time on a thread of its own, so the caller can work while it runs.

The reporter sends a batch this way and packs the next one meanwhile: waiting for the
server releases the GIL, so the packing overlaps the server's work instead of following it.

Example::

    wire = Wire(send)
    wire.start(op)          # send(op) runs on the wire's thread
    pack_the_next_batch()
    outcome = wire.wait()   # send(op)'s result; its exception is raised here
    wire.close()            # the thread ends once the call running, if any, returns
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

Arg = TypeVar("Arg")
Result = TypeVar("Result")


class Wire(Generic[Arg, Result]):
    def __init__(self, call: Callable[[Arg], Result], name: str = "tunelab-wire") -> None:
        self._call = call
        self._jobs: queue.SimpleQueue[tuple[Arg] | None] = queue.SimpleQueue()  # None: stop
        self._results: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self._busy = False
        # A daemon, like the reporter's thread: a request hanging at exit must not hold the
        # program; the reporter's bounded close() decides what is kept.
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def start(self, arg: Arg) -> None:
        if self._busy:
            raise RuntimeError("the wire runs one call at a time: wait() for the last one first")
        self._busy = True
        self._jobs.put((arg,))

    def wait(self) -> Result:
        ok, value = self._results.get()
        self._busy = False
        if not ok:
            raise value
        result: Result = value
        return result

    def close(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                self._results.put((True, self._call(job[0])))
            except BaseException as exc:  # handed to the caller of wait(), not lost here
                self._results.put((False, exc))
