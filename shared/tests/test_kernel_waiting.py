"""A worker loop waiting for a wake-up stops when told, even if woken at the same instant."""

import asyncio

import pytest

from disparo_shared.waiting import wait_for_event


async def _loop_forever(wake: asyncio.Event, woken: list[bool]) -> None:
    while True:
        woken.append(await wait_for_event(wake, 60))
        wake.clear()


async def test_a_stop_that_lands_with_a_wake_up_is_not_lost():
    wake, woken = asyncio.Event(), []
    worker = asyncio.create_task(_loop_forever(wake, woken))
    await asyncio.sleep(0)  # the worker is waiting
    # The race of a NOTIFY arriving as the service stops: both in one loop iteration.
    wake.set()
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(worker, 5)
    assert worker.cancelled()


async def test_it_says_whether_it_was_woken_or_timed_out():
    wake = asyncio.Event()
    assert await wait_for_event(wake, 0.01) is False
    wake.set()
    assert await wait_for_event(wake, 60) is True
