"""Phone numbers as E.164, with Brazil's mobile rules, so one doctor is one number.

Brazilian mobiles gained a ninth digit (a leading 9) between 2012 and 2016; contact lists still
hold both forms. ``normalize_phone("(11) 8765-4321")`` and ``normalize_phone("+55 11 98765-4321")``
both give ``+5511987654321``. Landlines (local number starting 2–5) keep eight digits.
"""

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

DEFAULT_REGION = "BR"


class InvalidPhone(ValueError):
    """The text is not a phone number we can send to; the message says why."""


def _with_ninth_digit(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber:
    national = str(number.national_number)
    # 10 digits = 2 (DDD) + 8: an old-style mobile if the local part starts with 6, 7, 8 or 9.
    if number.country_code == 55 and len(national) == 10 and national[2] in "6789":
        return phonenumbers.parse(f"+55{national[:2]}9{national[2:]}")
    return number


def normalize_phone(text: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of ``text``; raises ``InvalidPhone`` with the reason."""
    candidate = text.strip()
    if not candidate:
        raise InvalidPhone("empty phone number")
    digits = "".join(ch for ch in candidate if ch.isdigit())
    # "5511987654321" (country code without "+", as WhatsApp writes it) is common in exports.
    if not candidate.startswith("+") and digits.startswith("55") and len(digits) in (12, 13):
        candidate = "+" + digits
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException as exc:
        raise InvalidPhone(f"not a phone number: {exc}") from exc
    number = _with_ninth_digit(number)
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number for its country")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def whatsapp_id(e164: str) -> str:
    """The digits WhatsApp uses as a user id (E.164 without "+")."""
    return e164.lstrip("+")
