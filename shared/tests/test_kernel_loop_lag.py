"""The event loop's lag: a loop held by synchronous work is seen waking up late."""

import asyncio
import time
from collections.abc import Callable

from prometheus_client import REGISTRY

from disparo_shared.loop_lag import Stall, watch_event_loop_lag


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"service": "lag-test", **labels}) or 0.0


async def test_a_loop_held_for_0_3_s_is_seen_late_by_at_least_0_2_s() -> None:
    watcher = asyncio.create_task(watch_event_loop_lag("lag-test"))
    await asyncio.sleep(0)  # the watcher is now asleep for its 0.1 s
    time.sleep(0.3)  # noqa: ASYNC251 - holds the loop on purpose: the watcher cannot wake before
    while sample("disparo_event_loop_lag_seconds_count") == 0:
        await asyncio.sleep(0.01)
    watcher.cancel()
    # It asked for 0.1 s and woke after at least 0.3 s: a lag of 0.2 s or more.
    assert sample("disparo_event_loop_lag_seconds_sum") >= 0.2


def hold_the_loop(until: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not until() and time.monotonic() < deadline:
        time.sleep(0.01)


async def test_each_stall_past_the_threshold_is_reported_once_with_where_the_loop_is() -> None:
    stalls: list[Stall] = []
    watcher = asyncio.create_task(
        watch_event_loop_lag("lag-test", stall_seconds=0.4, report=stalls.append)
    )

    def held() -> list[Stall]:  # a loaded machine may add stalls of its own, elsewhere
        return [stall for stall in stalls if "hold_the_loop" in stall.stack]

    for reported in range(2):
        await asyncio.sleep(0.3)  # the loop turns: the watcher beats
        # holds the loop, waiting and not computing, until the watchdog reports it
        hold_the_loop(until=lambda n=reported: len(held()) > n)
    await asyncio.sleep(0.3)
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)

    assert len(held()) == 2, "each stall reported once, the second after the loop turned again"
    for stall in held():
        assert stall.held_seconds >= 0.4
        assert stall.cpu_seconds < stall.held_seconds
