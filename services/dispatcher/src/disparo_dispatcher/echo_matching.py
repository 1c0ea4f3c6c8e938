"""Which provider sent-echo, if any, proves that a doubtful send went out: the matching rule.

A send is *doubtful* when we cannot know from our side whether the provider took it: the replica
that made the call died before recording the answer, or the call timed out. Providers tell us
what they sent, for every send:

- **Cloud API** posts a ``sent`` status carrying ``biz_opaque_callback_data``, which is our
  message id. Such an echo proves the message went out, whenever it was made: a message is never
  resent once an echo names it.
- **Evolution API** posts ``send.message`` with the key id, the recipient and the text, but not
  our id. An echo matches a doubtful message when it came through the message's sender (same
  provider and instance), to the same recipient (both normalised to E.164, so the ninth-digit
  forms of a Brazilian mobile agree), with the same text (SHA-256 of its UTF-8), and the
  provider's timestamp lies in the attempt's window ``[claimed_at - skew, in_doubt_since +
  skew]``: the provider cannot have taken the attempt before we claimed it, nor after the attempt
  became doubtful (its lease ran out, or its call gave up). ``skew`` (2 s by default) absorbs
  Evolution's whole-second timestamps and clock differences. An echo whose key id already names
  another message of ours, or that another doubtful message in the same batch took, is not
  used again.

Worked example: a message claimed at 10:00:00.4, its call timed out and recorded at 10:00:10.6.
An Evolution echo of the same text to the same doctor through the same instance stamped
10:00:00 (seconds, truncated) matches with skew 2 s (window 09:59:58.4 … 10:00:12.6); one
stamped 09:59:50 is an earlier send of the same text and does not.

The residual risk: two messages with the same text to the same doctor through the same number
within one window, one of them doubtful and the other's echo not yet owned by its message. Pair
spacing (6 s) and the per-recipient daily cap make that rare; the consequence is one of the two
marked sent on the other's echo.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

DEFAULT_SKEW = timedelta(seconds=2)


def body_digest(body: str) -> bytes:
    """SHA-256 of the text as UTF-8: what an Evolution echo's text is compared by."""
    return hashlib.sha256(body.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class DoubtfulSend:
    """One message in doubt, with what identifies its send at the provider."""

    message_id: UUID
    attempt: int
    provider: str | None  # its sender's provider; None when the sender is gone
    address: str | None  # Evolution instance / Cloud phone-number id
    phone: str  # E.164
    body_sha256: bytes
    claimed_at: datetime | None  # None for attempts claimed before this was recorded
    in_doubt_since: datetime


@dataclass(frozen=True, slots=True)
class RecordedEcho:
    """A provider's word that it sent something (see ``provider_echoes``)."""

    provider: str
    provider_message_id: str
    address: str
    message_id: UUID | None
    recipient: str | None  # E.164
    body_sha256: bytes | None
    at: datetime


def content_matches(send: DoubtfulSend, echo: RecordedEcho, skew: timedelta) -> bool:
    """Whether an echo without our id is this send: same number, recipient, text and window."""
    if echo.recipient is None or echo.body_sha256 is None or send.claimed_at is None:
        return False
    return (
        echo.provider == send.provider
        and echo.address == send.address
        and echo.recipient == send.phone
        and echo.body_sha256 == send.body_sha256
        and send.claimed_at - skew <= echo.at <= send.in_doubt_since + skew
    )


def match_echoes(
    doubtful: Sequence[DoubtfulSend],
    echoes: Sequence[RecordedEcho],
    skew: timedelta = DEFAULT_SKEW,
    owned: frozenset[str] | set[str] = frozenset(),
) -> dict[UUID, RecordedEcho]:
    """The echo proving each doubtful send went out; sends absent from the answer have none.

    Echoes naming a message id are used first. Content matches go to the earliest-claimed send
    first, each taking the earliest echo in its window, so two identical doubtful sends take two
    different echoes. ``owned`` holds provider ids already recorded on some message: never reused.
    """
    matched: dict[UUID, RecordedEcho] = {}
    named: dict[UUID, RecordedEcho] = {}
    for echo in echoes:
        if echo.message_id is not None:
            earlier = named.get(echo.message_id)
            if earlier is None or echo.at < earlier.at:
                named[echo.message_id] = echo
    taken = set(owned)
    for send in doubtful:
        echo = named.get(send.message_id)
        if echo is not None:
            matched[send.message_id] = echo
            taken.add(echo.provider_message_id)
    anonymous = sorted(
        (e for e in echoes if e.message_id is None and e.body_sha256 is not None),
        key=lambda e: (e.at, e.provider_message_id),
    )
    waiting = sorted(
        (s for s in doubtful if s.message_id not in matched and s.claimed_at is not None),
        key=lambda s: (s.claimed_at, str(s.message_id)),
    )
    for send in waiting:
        for echo in anonymous:
            if echo.provider_message_id not in taken and content_matches(send, echo, skew):
                matched[send.message_id] = echo
                taken.add(echo.provider_message_id)
                break
    return matched
