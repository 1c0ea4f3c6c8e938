"""Accepting one message to send: the rules behind ``POST /v1/messages``.

The message is not stored here: it becomes a ``messages.requested`` command staged in the outbox,
and the dispatcher owns it from then on. What campaign-api adds is the phone's E.164 form, the
contact it belongs to, and the refusal to write to someone who opted out.
"""

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from disparo_shared.events import MessageKind, MessagesRequested, RequestedMessage
from disparo_shared.events.messages import URGENT_PRIORITY
from disparo_shared.outbox import add_events
from disparo_shared.phones import InvalidPhone, normalize_phone
from disparo_shared.problems import Problem, invalid
from disparo_shared.queries import load_queries
from disparo_shared.text_input import unsafe_character
from disparo_shared.time_ordered_ids import time_ordered_uuid

Q = load_queries(Path(__file__).parent / "queries.sql")

# A reply in a live conversation must never wait behind a campaign backlog (10 is most urgent):
# it is urgent, so its request is published out of turn (``URGENT_PRIORITY``).
DEFAULT_PRIORITY: dict[MessageKind, int] = {
    MessageKind.REPLY: URGENT_PRIORITY,
    MessageKind.FIRST_CONTACT: 6,
    MessageKind.FOLLOWUP: 4,
    MessageKind.CAMPAIGN: 3,
}

# Keys the dispatcher deduplicates by share one space: campaigns use "campaign:<id>:<contact>",
# follow-ups "followup:…". A client's Idempotency-Key goes there as "client:<key>", so no client
# can name (and so take) a campaign's or a follow-up's slot.
CLIENT_KEY_PREFIX = "client:"


class SendMessage(BaseModel):
    """The body of ``POST /v1/messages``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phone: str = Field(description="Any common form; stored as E.164, e.g. +5511987654321.")
    body: str = Field(min_length=1, max_length=4096)
    priority: int | None = Field(
        None, ge=1, le=10, description="1–10, 10 most urgent; default by kind (reply 8)."
    )
    not_before: AwareDatetime | None = Field(None, description="Do not send earlier (with offset).")
    kind: MessageKind = MessageKind.REPLY
    conversation_id: UUID | None = Field(
        None,
        description="The conversation the message belongs to; without one, a new one is opened"
        " and its id returned.",
    )

    @field_validator("body")
    @classmethod
    def _clean_body(cls, body: str) -> str:
        """Line breaks and tabs are fine; NUL, other controls and bidi overrides are not."""
        if not body.strip():
            raise ValueError("must not be blank")
        reason = unsafe_character(body, multiline=True)
        if reason:
            raise ValueError(reason)
        return body


def opted_out_problem(opted_out_at: datetime, reason: str | None) -> Problem:
    why = f" ({reason})" if reason else ""
    return Problem(
        409,
        "Contact opted out",
        f"phone: the contact opted out on {opted_out_at.isoformat()}{why}; no message may be sent"
        " to it until it opts in again (LGPD)",
        errors=[{"field": "phone", "reason": "contact opted out"}],
    )


async def request_message(
    conn: asyncpg.Connection,
    command: SendMessage,
    idempotency_key: str,
    max_attempts: int,
    now: datetime,
) -> dict[str, str]:
    """Stage a ``MessagesRequested`` for one message in the caller's transaction.

    Returns ``{"message_id": ..., "conversation_id": ...}``: the named conversation, or a new
    one when the request names none. Both ids are new on every call, so the caller must run
    this once per idempotency key (``idempotency.run_once``) to keep it stable across retries.
    The message id is time-ordered (``time_ordered_uuid(now)``): the dispatcher's and reporting's
    tables keyed by it take new rows on their rightmost leaves.
    """
    try:
        phone = normalize_phone(command.phone)
    except InvalidPhone as exc:
        raise invalid("phone", str(exc)) from None
    contact = await conn.fetchrow(Q.contact_consent_by_phone, phone)
    if contact is not None and contact["opted_out_at"] is not None:
        raise opted_out_problem(contact["opted_out_at"], contact["opt_out_reason"])
    message = RequestedMessage(
        message_id=time_ordered_uuid(now),
        idempotency_key=CLIENT_KEY_PREFIX + idempotency_key,
        contact_id=contact["id"] if contact else None,
        phone=phone,
        kind=command.kind,
        body=command.body,
        priority=command.priority or DEFAULT_PRIORITY[command.kind],
        not_before=command.not_before.astimezone(UTC) if command.not_before else None,
        conversation_id=command.conversation_id or uuid4(),
        max_attempts=max_attempts,
        contact_name=contact["name"] if contact else None,
    )
    await add_events(conn, [MessagesRequested(messages=[message])])
    return {"message_id": str(message.message_id), "conversation_id": str(message.conversation_id)}
