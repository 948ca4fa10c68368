"""The reporter's wire: one call at a time on its own thread, results and errors handed back."""

from __future__ import annotations

import threading

import pytest

from tunelab.sdk.wire import Wire


def test_the_call_runs_on_its_own_thread_while_the_caller_works() -> None:
    release = threading.Event()
    seen: list[str] = []

    def call(arg: int) -> int:
        release.wait(10)
        seen.append(threading.current_thread().name)
        return arg * 2

    wire: Wire[int, int] = Wire(call, name="test-wire")
    wire.start(21)
    release.set()  # the caller got here while the call was still waiting
    assert wire.wait() == 42
    assert seen == ["test-wire"]
    wire.close()


def test_the_calls_exception_is_raised_by_wait_and_the_wire_goes_on() -> None:
    def call(arg: str) -> str:
        if arg == "bad":
            raise ValueError("bad argument")
        return arg.upper()

    wire: Wire[str, str] = Wire(call)
    wire.start("bad")
    with pytest.raises(ValueError, match="bad argument"):
        wire.wait()
    wire.start("good")
    assert wire.wait() == "GOOD"
    wire.close()


def test_one_call_at_a_time_and_close_ends_the_thread() -> None:
    wire: Wire[int, int] = Wire(lambda arg: arg, name="closing-wire")
    wire.start(1)
    with pytest.raises(RuntimeError, match="one call at a time"):
        wire.start(2)
    assert wire.wait() == 1
    thread = next(t for t in threading.enumerate() if t.name == "closing-wire")
    wire.close()
    thread.join(5)
    assert not thread.is_alive()
