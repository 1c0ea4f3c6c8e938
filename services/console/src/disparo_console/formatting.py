"""Numbers and dates the Brazilian way: 1.240 · 12,5% · 04/12/2026 14:05 (America/Sao_Paulo)."""

from datetime import datetime
from zoneinfo import ZoneInfo


def number(value: int | float | None) -> str:
    """``number(1240)`` is "1.240"; ``number(1234.5)`` is "1.234,5"; None is "—"."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:,.1f}"
    else:
        text = f"{int(value):,}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def percent(fraction: float | None) -> str:
    """``percent(0.1234)`` is "12,3%"; None (nothing sent yet) is "—"."""
    if fraction is None:
        return "—"
    return f"{fraction * 100:.1f}".replace(".", ",") + "%"


def to_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def date_time(value: datetime | str | None, zone: ZoneInfo) -> str:
    """``2026-12-04T17:05:00Z`` in São Paulo is "04/12/2026 14:05"; None is "—"."""
    moment = to_datetime(value)
    if moment is None:
        return "—"
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M")


def duration(seconds: int | float | None) -> str:
    """``duration(7800)`` is "2 h 10 min"; under a minute is "< 1 min"."""
    if seconds is None:
        return "—"
    minutes = int(seconds) // 60
    if minutes < 1:
        return "< 1 min"
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
    ]
    return " ".join(p for p in parts if p)


def age(seconds: int | float | None) -> str:
    """How long something has waited: ``age(42.7)`` is "42 s", ``age(200)`` is "3 min";
    None (nothing waits) is "—"."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{int(seconds)} s"
    return duration(seconds)
