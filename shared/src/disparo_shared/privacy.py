"""Masking of phone numbers and secrets, so neither ever reaches a log line in clear.

A phone keeps its country/area prefix and last two digits, enough to tell numbers apart while
debugging: ``+5511987654321`` → ``+5511*******21``. Secrets are replaced whole.
"""

import re
from typing import Any

# 10–15 digits, optionally with "+", not glued to other digits: E.164 and Brazilian local forms.
_PHONE = re.compile(r"(?<!\d)(\+?)(\d{4})(\d{4,9})(\d{2})(?!\d)")
_SECRET_KEYS = frozenset(
    {
        "apikey",
        "api_key",
        "x-api-key",
        "authorization",
        "token",
        "secret",
        "password",
        "access_token",
    }
)
REDACTED = "[redacted]"


def mask_phone(text: str) -> str:
    """Mask every phone-like digit run in ``text``."""
    return _PHONE.sub(lambda m: f"{m[1]}{m[2]}{'*' * len(m[3])}{m[4]}", text)


def scrub(value: Any, key: str | None = None) -> Any:
    """A copy of ``value`` with phones masked and secret-named fields redacted, recursively."""
    if key is not None and key.lower() in _SECRET_KEYS:
        return REDACTED
    if isinstance(value, str):
        return mask_phone(value)
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(v) for v in value)
    return value
