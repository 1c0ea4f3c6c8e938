"""The login rate limit: a pure rule over recent failures, with the clock passed in.

With the defaults (5 failures per user name, 20 per client address, in 15 minutes), the sixth
wrong password for ``ana`` within 15 minutes of the first is refused without being checked, and
``ana`` may try again 15 minutes after that first failure.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RecentFailures:
    by_username: int
    by_address: int
    oldest_by_username: datetime | None
    oldest_by_address: datetime | None


def retry_after(
    failures: RecentFailures,
    now: datetime,
    window: timedelta,
    max_per_user: int,
    max_per_address: int,
) -> timedelta | None:
    """How long until a login may be tried, or None when it may be tried now."""
    waits = []
    if failures.by_username >= max_per_user and failures.oldest_by_username is not None:
        waits.append(failures.oldest_by_username + window - now)
    if failures.by_address >= max_per_address and failures.oldest_by_address is not None:
        waits.append(failures.oldest_by_address + window - now)
    wait = max(waits, default=None)
    return wait if wait is not None and wait > timedelta(0) else None
