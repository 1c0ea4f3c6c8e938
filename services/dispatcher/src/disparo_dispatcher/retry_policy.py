"""What the queue does with a rejected send: retry later, wait without cost, or give up.

Transient failures back off exponentially with *full jitter*: after attempt ``n`` fails, the
next try waits a uniformly random time between 0 and ``min(max_seconds, base · 2^(n-1))``, and
never less than the provider's ``Retry-After``. With the defaults (base 5 s, max 1 h) and
``max_attempts = 5``: after the 1st failure the message waits 0–5 s, after the 2nd 0–10 s, the
3rd 0–20 s, the 4th 0–40 s; the 5th failure makes it dead, kept with its last error. A 503 with
``Retry-After: 30`` after the 1st attempt waits 30 s. Jitter spreads the retries of a burst of
failures (a provider blip fails hundreds of sends at once) so they do not return as one burst.

The other classes: a pair rate limit (131056) and a paused sender (131048) cost no attempt —
the message waits for the pair, or moves to another sender; permanent errors (template errors
132000/132001/132005/132007/132012 among them) and opted-out recipients are dead at once
(retrying cannot change the answer).

The Cloud API's own: 131047 (the window closed between claim and send) closes our record of the
window and costs no attempt — a message with a template goes again at once, as the template;
one without is held as ``needs_template``. 131049 (Meta's per-user marketing limit) puts the
message off 24 h, at most ``MARKETING_PUT_OFFS`` times, then it is dead with that code.
132015/132016 (template paused/disabled) kill the message and stop its template.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from disparo_dispatcher.providers.base import FailureClass, Rejected

MARKETING_PUT_OFFS = 2
MARKETING_PUT_OFF = timedelta(hours=24)


@dataclass(frozen=True)
class RetrySchedule:
    """Full-jitter exponential backoff bounds, in seconds."""

    base_seconds: float = 5.0
    max_seconds: float = 3600.0

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt number ``attempt`` (1-based)."""
        exponent = min(max(attempt, 1) - 1, 62)  # 2**62 s is already beyond any max_seconds
        return min(self.max_seconds, self.base_seconds * (2.0**exponent))

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before the next try: a uniform draw under the ceiling, ≥ Retry-After."""
        jittered = rng.uniform(0.0, self.ceiling(attempt))
        return max(jittered, retry_after or 0.0)


@dataclass(frozen=True)
class Verdict:
    """The queue's decision for one rejected attempt."""

    state: str  # "queued" (back in line) or "dead"
    due_at: datetime | None  # when back in line
    costs_attempt: bool  # False: the attempt is handed back (a wait, not a failure)
    retryable: bool  # for message.failed: a later try may succeed
    publish_failure: bool  # whether message.failed is published
    pause_sender: bool = False
    opted_out: bool = False
    close_window: bool = False  # 131047: the doctor's window with this sender is closed
    marketing_put_off: bool = False  # 131049: one more day's wait counted
    stop_template: bool = False  # 132015/132016: the template is stopped for the campaign


def judge_rejection(
    rejected: Rejected,
    attempt: int,
    max_attempts: int,
    now: datetime,
    schedule: RetrySchedule,
    rng: random.Random,
    pair_spacing_seconds: float,
    *,
    has_template: bool = False,
    sent_as_template: bool = False,
    marketing_put_offs: int = 0,
) -> Verdict:
    """Decide what happens after ``attempt`` (1-based) of a message was ``rejected``.

    ``has_template``: the message names a template; ``sent_as_template``: this attempt was it;
    ``marketing_put_offs``: the 131049 waits it already had.
    """
    match rejected.failure:
        case FailureClass.TRANSIENT:
            if attempt >= max_attempts:
                return Verdict("dead", None, True, False, True)
            wait = schedule.delay(attempt, rng, rejected.retry_after_seconds)
            return Verdict("queued", now + timedelta(seconds=wait), True, True, True)
        case FailureClass.PAIR_RATE_LIMITED:
            wait = max(pair_spacing_seconds, rejected.retry_after_seconds or 0.0)
            return Verdict("queued", now + timedelta(seconds=wait), False, True, False)
        case FailureClass.PAUSE_SENDER:
            return Verdict("queued", now, False, True, False, pause_sender=True)
        case FailureClass.OPTED_OUT:
            return Verdict("dead", None, True, False, True, opted_out=True)
        case FailureClass.NEEDS_TEMPLATE:
            if has_template and not sent_as_template:
                return Verdict("queued", now, False, True, False, close_window=True)
            return Verdict("held", None, False, True, True, close_window=True)
        case FailureClass.MARKETING_LIMITED:
            if marketing_put_offs < MARKETING_PUT_OFFS:
                due = now + MARKETING_PUT_OFF
                return Verdict("queued", due, False, True, True, marketing_put_off=True)
            return Verdict("dead", None, True, False, True)
        case FailureClass.TEMPLATE_STOPPED:
            return Verdict("dead", None, True, False, True, stop_template=True)
        case FailureClass.PERMANENT:
            return Verdict("dead", None, True, False, True)
    raise ValueError(f"unknown failure class {rejected.failure!r}")
