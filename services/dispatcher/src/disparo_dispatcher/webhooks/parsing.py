"""Small helpers both webhook parsers share: timestamps, phones and our echoed message id."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from disparo_shared.phones import InvalidPhone, normalize_phone

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def unix_time(value: Any, fallback: datetime) -> datetime:
    """``"1764108000"`` or ``1764108000`` (unix seconds, as both providers write) → UTC datetime."""
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return fallback


def iso_time(value: Any, fallback: datetime) -> datetime:
    """``"2026-11-25T22:10:07.123Z"`` → UTC datetime; anything unreadable gives ``fallback``."""
    if not isinstance(value, str):
        return fallback
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def e164_or_none(digits: Any) -> str | None:
    """A WhatsApp id (``5511987654321``) as E.164, or None when it is not a phone number."""
    if not isinstance(digits, str) or not digits:
        return None
    try:
        return normalize_phone("+" + digits.lstrip("+"))
    except InvalidPhone:
        return None


def uuid_or_none(value: Any) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def as_list(value: Any) -> list[Any]:
    """Payload fields that should be lists, tolerating a missing field or a single object."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    return [value]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
