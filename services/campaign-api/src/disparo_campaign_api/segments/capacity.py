"""How long sending to an audience will take: an estimate for previews, not a promise.

The dispatcher owns the real capacity (senders, warm-up, per-recipient spacing, quiet hours,
retries); campaign-api does not see it. The estimate assumes the fleet sends
``rate_per_second`` messages per second while the campaign's window is open and that the
campaign's ``max_per_day`` caps each day. Example: 1,000 recipients at 80/s with no daily cap →
13 s; 1,000 recipients with ``max_per_day`` = 300 → three full days plus 100 messages →
3 × 86,400 + 2 = 259,202 s. Days without a window (weekends, say) are not skipped.
"""

import math

SECONDS_PER_DAY = 86_400


def estimate_send_seconds(
    recipients: int,
    rate_per_second: float,
    max_per_day: int | None = None,
    window_hours_per_day: int = 24,
) -> int:
    """Whole seconds from start until the last of ``recipients`` messages is sent."""
    if recipients <= 0:
        return 0
    if rate_per_second <= 0:
        raise ValueError("rate_per_second must be positive")
    per_day = window_hours_per_day * 3600 * rate_per_second
    if max_per_day:
        per_day = min(per_day, max_per_day)
    if recipients <= per_day:
        return math.ceil(recipients / rate_per_second)
    full_days = math.ceil(recipients / per_day) - 1
    last_day = recipients - full_days * per_day
    return int(full_days * SECONDS_PER_DAY + math.ceil(last_day / rate_per_second))
