"""How late a service's event loop runs what is ready to run, and where it is when it stops.

Everything a service does shares one event loop: a reply's intake waits behind whatever holds
the loop (validating a campaign's 1,000-message event, building a claim's buffers). A short
sleep that wakes up late measures that wait directly; a process whose lag grows is CPU-bound
before any queue shows it.

A loop that stops for seconds is another matter: its leases run out, Postgres ends its open
transactions, and the lag is only observed once it turns again. So a watchdog thread watches
the sampler's heartbeat and, while the loop is stuck, logs where the loop's thread is and what
the process was doing meanwhile: CPU spent in the process means code held the loop; none means
the process was not running at all (starved of CPU, or blocked in a synchronous call).
"""

import asyncio
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Histogram

from disparo_shared.logging import get_logger

log = get_logger(__name__)

SAMPLE_SECONDS = 0.1
STALL_SECONDS = 5.0
"""A loop that has not turned for this long is reported: well inside a lease and Postgres's
idle-in-transaction timeout, well past any lag that work on the loop should cause."""
STACK_FRAMES = 20  # the innermost ones: where the loop is, not how asyncio got there

EVENT_LOOP_LAG = Histogram(
    "disparo_event_loop_lag_seconds",
    f"How much later than asked a {SAMPLE_SECONDS:g} s sleep of the service's event loop woke "
    "up: the wait of any work that was ready to run then.",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


@dataclass(frozen=True)
class Stall:
    held_seconds: float
    """Since the loop last turned."""
    cpu_seconds: float
    """CPU the whole process used meanwhile (all threads)."""
    watchdog_late_seconds: float
    """How late the watchdog's own last wake-up was: close to ``held_seconds`` when the whole
    process stood still (or one C call kept the GIL), not only the loop."""
    stack: str
    """Where the loop's thread is now."""


def log_stall(service: str, stall: Stall) -> None:
    log.warning(
        "event loop stalled",
        service=service,
        held_seconds=round(stall.held_seconds, 1),
        cpu_seconds=round(stall.cpu_seconds, 1),
        watchdog_late_seconds=round(stall.watchdog_late_seconds, 1),
        stack=stall.stack,
    )


class LoopWatchdog:
    """A daemon thread that reports, once per stall, a loop whose last beat is ``stall_seconds``
    old."""

    def __init__(
        self,
        report: Callable[[Stall], None],
        stall_seconds: float = STALL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report = report
        self._stall_seconds = stall_seconds
        self._monotonic = monotonic
        self._loop_thread = threading.get_ident()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self.beat()

    def beat(self) -> None:
        """Called on the loop: it turned just now."""
        self._beat_at = self._monotonic()
        self._beat_cpu = time.process_time()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _watch(self) -> None:
        interval = self._stall_seconds / 4
        woke_at = self._monotonic()
        reported_beat: float | None = None
        while not self._stopped.wait(interval):
            now = self._monotonic()
            late = now - woke_at - interval
            woke_at = now
            beat_at, beat_cpu = self._beat_at, self._beat_cpu
            if now - beat_at < self._stall_seconds or reported_beat == beat_at:
                continue
            reported_beat = beat_at
            frame = sys._current_frames().get(self._loop_thread)
            stack = traceback.format_stack(frame, limit=STACK_FRAMES) if frame else []
            self._report(
                Stall(
                    held_seconds=now - beat_at,
                    cpu_seconds=time.process_time() - beat_cpu,
                    watchdog_late_seconds=max(0.0, late),
                    stack="".join(stack),
                )
            )


async def watch_event_loop_lag(
    service: str,
    monotonic: Callable[[], float] = time.monotonic,
    stall_seconds: float = STALL_SECONDS,
    report: Callable[[Stall], None] | None = None,
) -> None:
    """Observe the loop's lag every ``SAMPLE_SECONDS`` until cancelled; meanwhile a watchdog
    reports any stall of ``stall_seconds`` or more (to the log unless ``report`` is given)."""
    lag = EVENT_LOOP_LAG.labels(service)
    watchdog = LoopWatchdog(report or (lambda stall: log_stall(service, stall)), stall_seconds)
    watchdog.start()
    try:
        while True:
            asked = monotonic()
            await asyncio.sleep(SAMPLE_SECONDS)
            lag.observe(max(0.0, monotonic() - asked - SAMPLE_SECONDS))
            watchdog.beat()
    finally:
        watchdog.stop()  # the thread's wait ends at once; it is gone within microseconds
