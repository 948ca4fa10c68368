"""Tunelab's own failures while capturing a run become warnings, never the script's failure.

Every hook the SDK installs in a user's process (argparse, click, Hydra, Fire, absl, the console,
model savers…) runs its work inside ``guarded``: an exception there is printed once as
``tunelab: could not capture <what>: <why>``, kept as a warning of the run (sent to the task
once it exists, listed on its Info tab and by ``export_task()``), and the script goes on
exactly as it would without Tunelab::

    with guarded("the Hydra configuration"):
        task.connect_configuration(cfg, name="OmegaConf")

    @guard("the Fire arguments")
    def on_fire_call(component, args): ...       # returns None when it raised

Warnings raised before the task exists (a parse before ``Task.init``) wait in this module
until ``connect`` hands them to the run.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import ParamSpec, TypeVar

MAX_REASON_LENGTH = 2000

Warning_ = dict[str, str | float]
Sink = Callable[[Warning_], None]
P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_pending: list[Warning_] = []
_printed: set[tuple[str, str]] = set()
_sink: list[Sink] = []


def warn(what: str, why: BaseException | str) -> None:
    """Record that capturing ``what`` failed because of ``why``; prints each pair once."""
    entry = warning(what, why)
    with _lock:
        first = (what, entry["reason"]) not in _printed
        _printed.add((what, str(entry["reason"])))
        sink = _sink[0] if _sink else None
        if sink is None and first:
            _pending.append(entry)
    if not first:
        return
    with suppress(Exception):  # a closed or broken stderr must not end the script either
        # One write: a line from another thread never lands inside it.
        sys.stderr.write(f"tunelab: could not capture {what}: {entry['reason']}\n")
        sys.stderr.flush()
    if sink is not None:
        _deliver(sink, entry)


def warning(what: str, why: BaseException | str) -> Warning_:
    """The record of a warning, as a task keeps it."""
    reason = why if isinstance(why, str) else f"{type(why).__name__}: {why}"
    return {"what": what, "reason": reason.strip()[:MAX_REASON_LENGTH], "time": time.time()}


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Run the block; an ``Exception`` inside becomes a warning about ``what``."""
    try:
        yield
    except Exception as exc:
        warn(what, exc)


def guard(what: str) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """Decorate a hook callback: it answers None (and warns) instead of raising."""

    def decorate(func: Callable[P, R]) -> Callable[P, R | None]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                warn(what, exc)
                return None

        return wrapper

    return decorate


def connect(sink: Sink) -> None:
    """Send every warning (those waiting, and those to come) to ``sink``: the run's task."""
    with _lock:
        _sink[:] = [sink]
        waiting, _pending[:] = list(_pending), []
    for entry in waiting:
        _deliver(sink, entry)


def disconnect() -> None:
    """The run ended: later warnings wait again (a second ``Task.init`` in tests)."""
    with _lock:
        _sink.clear()
        _printed.clear()


def pending() -> list[Warning_]:
    """The warnings not yet handed to a run."""
    with _lock:
        return list(_pending)


def _deliver(sink: Sink, entry: Warning_) -> None:
    try:
        sink(entry)
    except Exception as exc:  # the warning was printed; losing its record is all that happens
        with suppress(Exception):
            print(f"tunelab: could not record a capture warning: {exc}", file=sys.stderr)
