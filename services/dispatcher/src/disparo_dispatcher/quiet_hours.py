"""Quiet hours: unsolicited messages go out only inside a send window of the recipient's day.

The window is local to the recipient: 08:00–20:00 in America/Sao_Paulo by default, Monday to
Saturday. A message due at 19:59:59 on a Saturday goes at once; one due at 20:00 waits until
Monday 08:00 (Sunday is closed). Brazil spans four zones, so a doctor in Manaus (area code 92,
UTC−4) receives at 08:00 Manaus time, an hour after one in Recife. Waiting for the window is not
a failure and costs no attempt.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

# Brazilian area codes (DDD) outside Brasília time; every other Brazilian number is UTC−3.
_BR_ZONES_BY_AREA = {
    "68": "America/Rio_Branco",  # Acre, UTC−5
    "69": "America/Porto_Velho",  # Rondônia, UTC−4
    "65": "America/Cuiaba",  # Mato Grosso
    "66": "America/Cuiaba",
    "67": "America/Campo_Grande",  # Mato Grosso do Sul
    "92": "America/Manaus",  # Amazonas
    "97": "America/Manaus",
    "95": "America/Boa_Vista",  # Roraima
}


@dataclass(frozen=True)
class SendWindow:
    """Local opening hours for unsolicited messages; ``weekdays`` uses Monday=0 … Sunday=6."""

    start: time
    end: time
    weekdays: frozenset[int]

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError("the send window must open before it closes on the same day")
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ValueError("weekdays must be a non-empty subset of 0..6")


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def recipient_time_zone(phone: str, default: str) -> str:
    """The recipient's IANA zone from an E.164 phone; ``default`` when the number does not say.

    ``+5592991234567`` (Manaus) → ``America/Manaus``; ``+5511987654321`` → ``America/Sao_Paulo``.
    """
    if phone.startswith("+55") and len(phone) >= 5:
        return _BR_ZONES_BY_AREA.get(phone[3:5], "America/Sao_Paulo")
    return default


def next_send_time(now: datetime, time_zone: str, window: SendWindow) -> datetime:
    """``now`` if it lies inside the window in ``time_zone``, else the next opening (UTC)."""
    local = now.astimezone(zone(time_zone))
    for days_ahead in range(8):
        day = (local + timedelta(days=days_ahead)).date()
        if day.weekday() not in window.weekdays:
            continue
        opens = datetime.combine(day, window.start, tzinfo=local.tzinfo)
        closes = datetime.combine(day, window.end, tzinfo=local.tzinfo)
        if local < opens:
            return opens.astimezone(UTC)
        if local < closes:
            return now
    raise AssertionError("a window open at least one weekday always opens within a week")


def local_day_start(now: datetime, time_zone: str) -> datetime:
    """Midnight of ``now``'s day in ``time_zone``, in UTC: where "today" counts begin."""
    local = now.astimezone(zone(time_zone))
    return datetime.combine(local.date(), time(0), tzinfo=local.tzinfo).astimezone(UTC)


def next_day_start(now: datetime, time_zone: str) -> datetime:
    """Midnight after ``now`` in ``time_zone``, in UTC: when daily counts reset."""
    local = now.astimezone(zone(time_zone))
    tomorrow = local.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=local.tzinfo).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ZonedWindow:
    """A campaign's own send window, in the campaign's zone (not the recipient's)."""

    window: SendWindow
    time_zone: str


@lru_cache(maxsize=256)
def campaign_window(
    start_hour: int, end_hour: int, iso_weekdays: tuple[int, ...], time_zone: str
) -> ZonedWindow:
    """The window campaign-api describes (hours, ISO weekdays 1 = Monday) as a ``SendWindow``."""
    end = time.max if end_hour == 24 else time(end_hour)
    weekdays = frozenset(day - 1 for day in iso_weekdays)
    return ZonedWindow(SendWindow(time(start_hour), end, weekdays), time_zone)
