"""Time as the send loop sees it: an injectable wall clock, a monotonic one, and the local day."""

from collections.abc import Callable
from datetime import UTC, date, datetime

from disparo_dispatcher.quiet_hours import zone

Clock = Callable[[], datetime]  # wall time (UTC): what is stored and compared with the database
Monotonic = Callable[[], float]  # seconds that never jump: paces sends and times leases


def utc_now() -> datetime:
    return datetime.now(UTC)


def local_today(now: datetime, time_zone: str) -> date:
    """The date at ``now`` in ``time_zone``, whose midnight resets the daily counts."""
    return now.astimezone(zone(time_zone)).date()
