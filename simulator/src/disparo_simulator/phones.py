"""Turns the many ways callers write a WhatsApp number into the bare digits providers use."""

_DECORATION = str.maketrans("", "", "+-() ")


def wa_id(raw: str) -> str | None:
    """``'+55 (11) 98765-4321'`` or ``'5511987654321@s.whatsapp.net'`` → ``'5511987654321'``.

    Returns None when what is left is not 8 to 15 digits (E.164 without the plus).
    """
    digits = raw.split("@", 1)[0].translate(_DECORATION)
    if 8 <= len(digits) <= 15 and digits.isascii() and digits.isdigit():
        return digits
    return None
