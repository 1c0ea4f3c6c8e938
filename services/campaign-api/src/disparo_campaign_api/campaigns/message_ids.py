"""The dispatcher message id of a campaign recipient: derived, not stored.

``message_id = campaign_message_id(campaign_id, seq)`` is an RFC 9562 version-8 UUID holding the
campaign id's first 60 bits and the recipient's ``seq`` (62 bits)::

    | campaign bits 0–47 | ver=8 | campaign bits 48–59 | var=10 | seq (62 bits) |

Why: the same recipient always gets the same id, so a fan-out chunk redone after a crash names
the same messages (the dispatcher keeps one row per id); an outcome event (``message.sent`` /
``message.failed``) leads straight back to its recipient row by primary key; and the million-row
audience insert writes no random UUID and maintains no index on one. Two campaigns would need
the same 60-bit prefix to share ids — about 1 in 10¹⁸ for a given pair — and ids from other
requesters are random version-4 UUIDs, which never have version 8.
"""

from uuid import UUID

_SEQ_BITS = 62
_SEQ_MASK = (1 << _SEQ_BITS) - 1
_VERSION = 8
_VARIANT = 0b10


def _campaign_prefix(campaign_id: UUID) -> int:
    return campaign_id.int >> 68  # the first 60 bits


def campaign_message_id(campaign_id: UUID, seq: int) -> UUID:
    if not 0 < seq <= _SEQ_MASK:
        raise ValueError(f"seq out of range: {seq}")
    prefix = _campaign_prefix(campaign_id)
    high = ((prefix >> 12) << 16) | (_VERSION << 12) | (prefix & 0xFFF)
    low = (_VARIANT << _SEQ_BITS) | seq
    return UUID(int=(high << 64) | low)


def recipient_seq(campaign_id: UUID, message_id: UUID) -> int | None:
    """The ``seq`` of ``message_id`` within ``campaign_id``, or None if it is not one of its ids."""
    high, low = message_id.int >> 64, message_id.int & ((1 << 64) - 1)
    if (high >> 12) & 0xF != _VERSION or low >> _SEQ_BITS != _VARIANT:
        return None
    prefix = ((high >> 16) << 12) | (high & 0xFFF)
    if prefix != _campaign_prefix(campaign_id):
        return None
    seq = low & _SEQ_MASK
    return seq or None
