"""Follow-up delays as durations a recruiter writes: ``3d``, ``36h``, ``1d12h``, ``30m``,
``2s``, or ISO 8601 (``P3D``, ``PT36H``, ``PT30M``, ``P1DT12H``).

``parse_duration("36h")`` is 1 day 12 hours; ``format_duration`` writes it back as ``1d12h``.
Months and years are refused: their length depends on the calendar, a delay must not.
"""

import re
from datetime import timedelta

_SHORT = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class InvalidDuration(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """The duration ``text`` names; raises ``InvalidDuration`` saying what is accepted."""
    cleaned = text.strip()
    match = _SHORT.match(cleaned.lower()) or _ISO.match(cleaned.upper())
    if not cleaned or match is None or not any(match.groups()) or cleaned.upper() in {"P", "PT"}:
        raise InvalidDuration(
            f"{text!r} is not a duration; write e.g. 3d, 36h, 1d12h, 30m or PT30M"
        )
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    try:
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise InvalidDuration(f"{text!r} is longer than any calendar holds") from None
    if duration <= timedelta(0):
        raise InvalidDuration(f"{text!r} is zero; a follow-up waits at least a second")
    return duration


def format_duration(duration: timedelta) -> str:
    """The short form: ``timedelta(days=1, hours=12)`` → ``1d12h``."""
    total = int(duration.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"
