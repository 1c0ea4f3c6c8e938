"""Every sending limit as a pure rule over an injected clock: per sender, recipient and day.

Per sender, per second — ``SendRateLimiter``. The provider counts a send when it *accepts* it,
some time between our request leaving and its answer arriving; we cannot see that instant. So a
send occupies its sender's one-second window from the moment it starts until one second after
its answer: a new send may start only while fewer than ``rate`` sends are in flight or answered
within the last second. Whatever the latencies, no sliding second at the provider then holds more
than ``rate`` acceptances (of the sends in any such second, take the one that started last: every
other one was accepted, hence answered, less than a second before that start, so it was counted).
The price is throughput: with 20 ms answers a sender of 80/s sustains 80/1.02 ≈ 78 sends/s.
Within that cap, starts are paced ``1/rate`` apart, each gap varied by ± ``jitter`` so the rhythm
never looks machine-made: at 80/s with jitter 0.3 the gaps fall between 8.75 and 16.25 ms.

Per sender, per day — ``daily_cap``: the smaller of the sender's own ``daily_limit`` and its
warm-up ramp. A number that started warming up on Monday with caps ``[50, 50, 100]`` may send 50
on Monday and Tuesday, 100 on Wednesday, and from Thursday only its ``daily_limit`` binds.

Per recipient — ``pair_ready_at`` (one message per ``spacing`` seconds to the same phone, measured
from the previous send's answer, so the provider's view can only be wider) and
``recipient_campaign_room`` (campaign messages left today).

Monotonic seconds (floats) drive the per-second limiter; UTC datetimes drive the rest.
"""

import random
from collections import deque
from datetime import date, datetime, timedelta

WINDOW_SECONDS = 1.0


class SendRateLimiter:
    """At most ``rate`` sends per sliding second for one sender, paced with random gaps.

    ``delay(now)`` says how long to wait before the next start (``None``: until a send in flight
    answers), ``started(now)`` and ``finished(now)`` record a send's life. ``not_before`` holds
    all sends until a moment: a replica that just took the sender over does not know what the
    previous holder sent in the last second, so it waits that second out.
    """

    def __init__(
        self,
        rate: int,
        jitter: float = 0.0,
        rng: random.Random | None = None,
        not_before: float = 0.0,
    ) -> None:
        if rate < 1:
            raise ValueError("rate must be at least 1 per second")
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")
        self.rate = rate
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._answered: deque[float] = deque()  # answer times within the last second
        self.in_flight = 0
        self._next_start = not_before

    def set_rate(self, rate: int) -> None:
        if rate < 1:
            raise ValueError("rate must be at least 1 per second")
        self.rate = rate

    def _forget_old(self, now: float) -> None:
        horizon = now - WINDOW_SECONDS
        answered = self._answered
        while answered and answered[0] <= horizon:
            answered.popleft()

    def delay(self, now: float) -> float | None:
        """Seconds until a send may start (0.0: now); ``None`` while the window is all in flight."""
        self._forget_old(now)
        paced = max(0.0, self._next_start - now)
        if self.in_flight + len(self._answered) < self.rate:
            return paced
        if not self._answered:
            return None
        return max(paced, self._answered[0] + WINDOW_SECONDS - now)

    def started(self, now: float) -> None:
        """A send starts now: it holds a place in the window and sets the next paced start."""
        self.in_flight += 1
        gap = 1.0 / self.rate
        if self._jitter:
            gap *= 1.0 + self._rng.uniform(-self._jitter, self._jitter)
        self._next_start = max(self._next_start, now) + gap

    def finished(self, now: float) -> None:
        """A send got its answer (or gave up) now; it leaves the window one second later."""
        if self.in_flight <= 0:
            raise RuntimeError("finished() without a matching started()")
        self.in_flight -= 1
        self._answered.append(now)

    def sends_in_window(self, now: float) -> int:
        """Sends that still count against the current second (in flight or recently answered)."""
        self._forget_old(now)
        return self.in_flight + len(self._answered)


def warmup_cap(warmup_started_on: date | None, today: date, caps: list[int]) -> int | None:
    """Messages allowed today by the warm-up ramp, or ``None`` once the ramp is over.

    Day 1 is ``warmup_started_on`` itself; a start date in the future means day 1's cap.
    """
    if warmup_started_on is None or not caps:
        return None
    day_number = max(1, (today - warmup_started_on).days + 1)
    if day_number > len(caps):
        return None
    return caps[day_number - 1]


def daily_cap(
    daily_limit: int | None, warmup_started_on: date | None, today: date, caps: list[int]
) -> int | None:
    """The sender's messages allowed today: the tighter of its limit and its ramp;
    ``None`` = no cap.
    """
    limits = [c for c in (daily_limit, warmup_cap(warmup_started_on, today, caps)) if c is not None]
    return min(limits) if limits else None


def sender_weight(rate_per_second: int, cap_today: int | None) -> int:
    """How many new contacts a sender should get relative to others: what it can send today.

    A mature 80/s number weighs 80·86400; one on warm-up day 1 (50/day) weighs 50, so new
    contacts almost never land on it while healthier numbers exist. Always at least 1.
    """
    full_day = rate_per_second * 86_400
    return max(1, min(full_day, cap_today) if cap_today is not None else full_day)


def pair_ready_at(last_sent_at: datetime | None, spacing_seconds: float) -> datetime | None:
    """When the next message to this recipient may go; ``None`` if nothing was sent to it yet."""
    if last_sent_at is None:
        return None
    return last_sent_at + timedelta(seconds=spacing_seconds)


def recipient_campaign_room(
    campaign_day: date | None, sent_on_day: int, today: date, max_per_day: int
) -> int:
    """Campaign messages this recipient may still get today (counts reset with the day)."""
    used = sent_on_day if campaign_day == today else 0
    return max(0, max_per_day - used)
