"""When the daily follow-up job runs: a wall-clock time in a named zone, DST-proof.

``next_run_at(now, time(10, 0), ZoneInfo("America/Sao_Paulo"))`` at 2026-03-02 12:00 UTC
(09:00 in São Paulo) is 13:00 UTC the same day; at 14:00 UTC it is 13:00 UTC the next day.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def latest_slot(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The most recent scheduled run at or before ``now`` (timezone-aware, in ``zone``)."""
    local = now.astimezone(zone)
    today = datetime.combine(local.date(), at, tzinfo=zone)
    if today <= local:
        return today
    return datetime.combine(local.date() - timedelta(days=1), at, tzinfo=zone)


def next_run_at(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first scheduled run strictly after ``now``."""
    slot = latest_slot(now, at, zone)
    return datetime.combine(slot.date() + timedelta(days=1), at, tzinfo=zone)
