"""The in-process signal that wakes waiting long polls: who is woken, and when."""

from __future__ import annotations

import asyncio
import time

from tests.event_loop import run_coroutine
from tunelab.server.work_signal import WorkSignal


async def woken_within(signal: WorkSignal, queues: list[str] | None, timeout: float) -> bool:
    round_ = signal.current(queues)
    began = time.monotonic()
    await signal.wait(round_, timeout)
    return round_.is_set() and time.monotonic() - began < timeout


def test_an_enqueue_wakes_the_polls_of_its_queue_only() -> None:
    async def scenario() -> list[bool]:
        signal = WorkSignal()
        polls = [
            asyncio.create_task(woken_within(signal, queues, 0.5))
            for queues in (["gpu"], ["cpu", "gpu"], ["cpu"], None)
        ]
        await asyncio.sleep(0.05)
        signal.wake("gpu")
        return list(await asyncio.gather(*polls))

    # A poll that does not know its queues yet (None) wakes for any of them.
    assert run_coroutine(scenario()) == [True, True, False, True]


def test_a_wake_for_everyone_and_a_wake_during_the_attempt() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        signal = WorkSignal()
        round_ = signal.current(["cpu"])
        signal.wake()  # while the poll makes its attempt: its wait must not miss it
        await signal.wait(round_, 5)
        missed = round_.is_set()
        after = signal.current(["cpu"])  # a new round: the old wake is spent
        await signal.wait(after, 0.05)
        no_queue = signal.current([])
        await signal.wait(no_queue, 0.05)
        return missed, after.is_set(), no_queue.is_set()

    assert run_coroutine(scenario()) == (True, False, False)


def test_notify_from_a_thread_leaves_the_waking_to_a_listening_database() -> None:
    async def scenario(database_listens: bool) -> bool:
        signal = WorkSignal()
        signal.database_listens = database_listens
        poll = asyncio.create_task(woken_within(signal, ["gpu"], 0.5))
        await asyncio.sleep(0.05)
        await asyncio.to_thread(signal.notify)  # routes call it from the threadpool
        return await poll

    assert run_coroutine(scenario(database_listens=False)) is True
    assert run_coroutine(scenario(database_listens=True)) is False
