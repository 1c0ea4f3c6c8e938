"""WhatsApp's sending limits, enforced so a test can prove its caller never exceeds them.

Two limits, both on accepted sends only (a refused or failed request uses no capacity):

- throughput: at most ``rate_per_second`` accepted sends per sending number in any sliding
  1-second window. With a rate of 80, sends accepted at t=0.00 … 0.79 (80 of them) make a send
  at t=0.99 wait until t=1.00, when the first one leaves the window.
- pair spacing: the same sending number may write to the same recipient again only
  ``pair_spacing_seconds`` after the last accepted send to it (Meta allows about one message
  every 6 s per pair).

The clock is injected (monotonic seconds), so tests move time by hand and never sleep.
"""

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from disparo_simulator.outcomes import Verdict

Clock = Callable[[], float]
"""Returns monotonic seconds; ``time.monotonic`` in production, a fake in tests."""

WINDOW_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """The verdict of a limit check; ``retry_after_seconds`` says when trying again can pass."""

    verdict: Verdict
    retry_after_seconds: int | None = None


ALLOWED = LimitCheck(Verdict.ACCEPTED)


class SendLimits:
    """Per-number sliding-window rate and per-pair spacing, O(1) amortised per send."""

    def __init__(self, rate_per_second: int, pair_spacing_seconds: float) -> None:
        self.rate_per_second = rate_per_second
        self.pair_spacing_seconds = pair_spacing_seconds
        self._windows: dict[str, deque[float]] = {}
        self._last_to_pair: dict[tuple[str, str], float] = {}

    def reset(self) -> None:
        """Forget every past send."""
        self._windows.clear()
        self._last_to_pair.clear()

    def check(self, sender: str, recipient: str, now: float) -> LimitCheck:
        """Tell whether a send at ``now`` would stay within both limits; records nothing."""
        window = self._window(sender, now)
        if len(window) >= self.rate_per_second:
            wait = window[len(window) - self.rate_per_second] + WINDOW_SECONDS - now
            return LimitCheck(Verdict.THROTTLED, _whole_seconds(wait))
        last = self._last_to_pair.get((sender, recipient))
        if last is not None and now - last < self.pair_spacing_seconds:
            wait = last + self.pair_spacing_seconds - now
            return LimitCheck(Verdict.PAIR_LIMITED, _whole_seconds(wait))
        return ALLOWED

    def record(self, sender: str, recipient: str, now: float) -> int:
        """Count an accepted send; return how many ``sender`` accepted in the window ending now.

        The largest value ever returned for a sender is its peak throughput over any sliding
        1-second window, because every window's count peaks right after one of its sends.
        """
        window = self._window(sender, now)
        window.append(now)
        self._last_to_pair[(sender, recipient)] = now
        return len(window)

    def _window(self, sender: str, now: float) -> deque[float]:
        window = self._windows.get(sender)
        if window is None:
            window = self._windows[sender] = deque()
        horizon = now - WINDOW_SECONDS
        while window and window[0] <= horizon:
            window.popleft()
        return window


def _whole_seconds(wait: float) -> int:
    """Retry-After is whole seconds; round up and never say 0."""
    return max(1, math.ceil(wait))
