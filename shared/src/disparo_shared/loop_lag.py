"""How late a service's event loop runs what is ready to run.

Everything a service does shares one event loop: a reply's intake waits behind whatever holds
the loop (validating a campaign's 1,000-message event, building a claim's buffers). A short
sleep that wakes up late measures that wait directly; a process whose lag grows is CPU-bound
before any queue shows it.
"""

import asyncio
import time
from collections.abc import Callable

from prometheus_client import Histogram

SAMPLE_SECONDS = 0.1

EVENT_LOOP_LAG = Histogram(
    "disparo_event_loop_lag_seconds",
    f"How much later than asked a {SAMPLE_SECONDS:g} s sleep of the service's event loop woke "
    "up: the wait of any work that was ready to run then.",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


async def watch_event_loop_lag(
    service: str, monotonic: Callable[[], float] = time.monotonic
) -> None:
    """Observe the loop's lag every ``SAMPLE_SECONDS`` until cancelled."""
    lag = EVENT_LOOP_LAG.labels(service)
    while True:
        asked = monotonic()
        await asyncio.sleep(SAMPLE_SECONDS)
        lag.observe(max(0.0, monotonic() - asked - SAMPLE_SECONDS))
