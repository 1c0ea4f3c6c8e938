"""The event loop's lag: a loop held by synchronous work is seen waking up late."""

import asyncio
import time

from prometheus_client import REGISTRY

from disparo_shared.loop_lag import watch_event_loop_lag


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
