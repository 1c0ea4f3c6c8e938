"""The dispatcher message id of a campaign recipient: derived, not stored, and time-ordered.

``campaign_message_id(campaign_id, started_at, seq)`` is an RFC 9562 version-7 UUID::

    | started_at, Unix ms (48) | ver=7 | tag 0–11 | var=10 | tag 12–41 (30) | seq (32) |

``tag`` is 42 bits of the BLAKE2b hash of the campaign id; ``seq`` is the recipient's number in
the audience snapshot (1 … audience size, which is an ``int``, so under 2³¹).

Why this layout:

- **Same recipient, same id, always.** The start time is recorded (``campaigns.started_at``,
  never changed after the start) and ``seq`` is fixed by the snapshot, so a fan-out chunk redone
  after a crash names the same messages and the dispatcher keeps one row per id. The contact of a
  seq is fixed too, so the id is as stable as the message's idempotency key
  (``campaign:<campaign>:<contact>``).
- **Time-ordered.** A campaign's ids sort by its start, then by seq: the dispatcher's and
  reporting's primary keys take a campaign's million inserts on the rightmost leaves of one
  range, and a campaign started later sorts after it, instead of one random leaf per insert
  (which, at millions of rows, reads and dirties a different page for nearly every row).
- **Invertible.** An outcome (each item of a ``message.sent`` batch, or a ``message.failed``)
  carries the campaign and the message id; ``recipient_seq`` gives the recipient row's key
  without a lookup.

Two campaigns started in the same millisecond would need the same 42-bit tag to share ids (1 in
4 × 10¹²). Ids other requesters make are random (version 4, or version 7 with random bits: the
API's sends and follow-ups); one passes ``recipient_seq`` only if its 42 tag bits happen to match
the campaign's, 1 in 4 × 10¹² per message.

Ids issued before this layout (version 8: the campaign id's first 60 bits, then seq in 62 bits)
stay valid: ``recipient_seq`` still reads them, so a campaign whose fan-out spans the upgrade
completes with both kinds. Nothing stores them, so nothing needs migrating.
"""

from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from uuid import UUID

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_SEQ_BITS = 32
_SEQ_MASK = (1 << _SEQ_BITS) - 1
_TAG_LOW_BITS = 30
_VARIANT = 0b10
_LOW_HALF_MASK = (1 << 64) - 1

_LEGACY_SEQ_BITS = 62  # version 8, before time-ordered ids


def unix_milliseconds(moment: datetime) -> int:
    """Whole milliseconds since 1970 (floored, exact: no float on the way)."""
    return (moment - _EPOCH) // _MILLISECOND


def _campaign_tag(campaign_id: UUID) -> int:
    """42 bits that tell one campaign's ids from another's started in the same millisecond."""
    return int.from_bytes(blake2b(campaign_id.bytes, digest_size=8).digest()) >> 22


def _prefix(campaign_id: UUID, started_at: datetime) -> int:
    """The id's first 96 bits: everything but seq."""
    milliseconds = unix_milliseconds(started_at)
    if not 0 <= milliseconds < 1 << 48:
        raise ValueError(f"started_at out of range: {started_at}")
    tag = _campaign_tag(campaign_id)
    high = (milliseconds << 16) | (7 << 12) | (tag >> _TAG_LOW_BITS)
    low_top = (_VARIANT << _TAG_LOW_BITS) | (tag & ((1 << _TAG_LOW_BITS) - 1))
    return (high << 32) | low_top


def campaign_message_id(campaign_id: UUID, started_at: datetime, seq: int) -> UUID:
    """The id of recipient ``seq`` of the campaign started at ``started_at``.

    Campaign ``0b7e8c9a-4f0e-4d2b-9a51-3c1d2e3f4a5b`` started at 2026-12-04 12:00:00 UTC
    (1,796,385,600,000 ms = ``01a240ecf200``): recipient 1 is
    ``01a240ec-f200-72a6-9fd1-ddeb00000001`` and recipient 1,000,000 is
    ``01a240ec-f200-72a6-9fd1-ddeb000f4240``.
    """
    if not 0 < seq <= _SEQ_MASK:
        raise ValueError(f"seq out of range: {seq}")
    return UUID(int=(_prefix(campaign_id, started_at) << _SEQ_BITS) | seq)


def campaign_id_prefix(campaign_id: UUID, started_at: datetime) -> str:
    """The first 28 characters of every id of the campaign in canonical text (its first 96
    bits); SQL appends ``lpad(to_hex(seq), 8, '0')`` (``request_chunk``), so the fan-out
    statement writes the same ids as ``campaign_message_id``, e.g.
    ``01a240ec-f200-72a6-9fd1-ddeb`` + ``00000001``."""
    digits = f"{_prefix(campaign_id, started_at):024x}"
    return "-".join((digits[:8], digits[8:12], digits[12:16], digits[16:20], digits[20:]))


def recipient_seq(campaign_id: UUID, message_id: UUID) -> int | None:
    """The ``seq`` of ``message_id`` within ``campaign_id``, or None if it is not one of its ids
    (of either layout: version 7 now, version 8 before)."""
    value = message_id.int
    high, low = value >> 64, value & _LOW_HALF_MASK
    version = (high >> 12) & 0xF
    if low >> 62 != _VARIANT:
        return None
    if version == 7:
        tag = ((high & 0xFFF) << _TAG_LOW_BITS) | ((low >> _SEQ_BITS) & ((1 << _TAG_LOW_BITS) - 1))
        if tag != _campaign_tag(campaign_id):
            return None
        return (low & _SEQ_MASK) or None
    if version == 8:
        prefix = ((high >> 16) << 12) | (high & 0xFFF)
        if prefix != campaign_id.int >> 68:  # the campaign id's first 60 bits
            return None
        return (low & ((1 << _LEGACY_SEQ_BITS) - 1)) or None
    return None
