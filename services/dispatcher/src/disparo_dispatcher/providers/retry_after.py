"""Reads an HTTP ``Retry-After`` header, so a provider's own "come back in N s" is honoured.

The header is either delta-seconds (``Retry-After: 7``) or an HTTP date
(``Retry-After: Wed, 25 Nov 2026 22:10:07 GMT``, converted against the injected clock). Nonsense
is ignored rather than trusted: the queue's own backoff then applies. Values are capped at
``MAX_RETRY_AFTER_SECONDS`` (1 h) so one bad header cannot park a message for a week.
"""

import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_SECONDS = 3600.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_retry_after(value: str | None, now: Callable[[], datetime] = utc_now) -> float | None:
    """Seconds to wait, or None when absent or unreadable.

    ``parse_retry_after("3")`` → 3.0; an HTTP date 90 s ahead of ``now()`` → 90.0; a date in the
    past → 0.0; ``"soon"`` → None.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now()).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
