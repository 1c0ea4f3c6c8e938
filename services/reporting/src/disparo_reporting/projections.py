"""Applies events to the read models: one plain handler per event type, one transaction each.

Events arrive out of order and more than once. The inbox makes a redelivery a no-op; the SQL
makes order irrelevant: a message's state only moves up the ranks requested < enqueued <
retrying < sent < delivered < read < dead, each timestamp keeps its first value, and the row is
created by whichever event comes first (a ``sent`` before its ``enqueued`` creates it as sent).
"""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_reporting import privacy
from disparo_reporting.attribution_locks import lock_doctors
from disparo_reporting.metrics import EVENTS_DUPLICATE, EVENTS_PROJECTED, PROJECTION_LAG
from disparo_shared.events import (
    CampaignCancelled,
    CampaignCompleted,
    CampaignCreated,
    CampaignPaused,
    CampaignResumed,
    CampaignScheduled,
    CampaignStarted,
    ContactErased,
    ContactOptedIn,
    ContactOptedOut,
    ConversationControlChanged,
    Event,
    MessageCancelled,
    MessageDelivered,
    MessageFailed,
    MessageRead,
    MessageReceived,
    MessagesEnqueued,
    MessageSent,
    MessagesRequested,
    utc_now,
)
from disparo_shared.events.campaigns import CampaignEvent
from disparo_shared.inbox import first_delivery
from disparo_shared.phones import InvalidPhone, normalize_phone
from disparo_shared.privacy import mask_phone
from disparo_shared.queries import load_queries

CONSUMER = "reporting"
"""The inbox name of every reporting subscriber (event ids are unique across streams)."""

SQL = load_queries(Path(__file__).parent / "sql" / "projections.sql")

MESSAGE_EVENTS: tuple[type[Event], ...] = (
    MessagesEnqueued,
    MessageCancelled,
    MessageSent,
    MessageFailed,
    MessageDelivered,
    MessageRead,
    MessageReceived,
)
CAMPAIGN_EVENTS: tuple[type[Event], ...] = (
    CampaignCreated,
    CampaignScheduled,
    CampaignStarted,
    CampaignPaused,
    CampaignResumed,
    CampaignCancelled,
    CampaignCompleted,
)
CONTACT_EVENTS: tuple[type[Event], ...] = (ContactOptedOut, ContactOptedIn, ContactErased)
REQUEST_EVENTS: tuple[type[Event], ...] = (MessagesRequested,)
CONVERSATION_EVENTS: tuple[type[Event], ...] = (ConversationControlChanged,)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.subject: cls
    for cls in MESSAGE_EVENTS
    + CAMPAIGN_EVENTS
    + CONTACT_EVENTS
    + REQUEST_EVENTS
    + CONVERSATION_EVENTS
}
"""Event class by unprefixed subject, so one subscriber on a wildcard can parse each message."""


PREVIEW_CHARS = 80


def first_words(body: str, limit: int = PREVIEW_CHARS) -> str:
    """The start of a reply, cut at a word and marked with "…" when cut: what a recruiter
    needs to tell "Sim, tenho interesse" from "PARAR", and no more of a doctor's text.

    ``first_words("Sim, tenho interesse no plantão de sábado", 20)`` → ``"Sim, tenho interesse…"``.
    """
    text = " ".join(body.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut[:limit].rstrip(" ,.;:") + "…"


def canonical_phone(phone: str) -> str:
    """E.164 when it parses, else the text as given: replies must meet sends on the same key."""
    try:
        return normalize_phone(phone)
    except InvalidPhone:
        return phone.strip()


async def _fact(
    conn: asyncpg.Connection,
    *,
    message_id: UUID,
    state: str,
    campaign_id: UUID | None = None,
    conversation_id: UUID | None = None,
    kind: str | None = None,
    sender: str | None = None,
    attempts: int | None = None,
    enqueued_at: datetime | None = None,
    sent_at: datetime | None = None,
    delivered_at: datetime | None = None,
    read_at: datetime | None = None,
    failed_at: datetime | None = None,
    error_code: str | None = None,
    error: str | None = None,
    dead: bool | None = None,
) -> str | None:
    """Applies the fact; returns the message's phone, when its request has told it."""
    return await conn.fetchval(
        SQL.project_message_fact,
        message_id,
        campaign_id,
        conversation_id,
        kind,
        sender,
        state,
        attempts,
        enqueued_at,
        sent_at,
        delivered_at,
        read_at,
        failed_at,
        error_code,
        error,
        dead,
    )


async def _history(
    conn: asyncpg.Connection,
    event: Event,
    message_id: UUID,
    status: str,
    at: datetime,
    detail: str | None,
) -> None:
    await conn.execute(SQL.add_history, message_id, event.event_id, status, at, detail)


async def on_messages_requested(
    conn: asyncpg.Connection, event: MessagesRequested, reply_window: timedelta
) -> None:
    """Known from the request: kind, campaign, conversation and the phone replies are matched on.

    Takes its doctors' attribution locks first (``attribution_locks``): the request time and
    the phone decide which message a reply answers.
    """
    phones = [canonical_phone(m.phone) for m in event.messages]
    await lock_doctors(conn, phones)
    ids = [m.message_id for m in event.messages]
    await conn.execute(
        SQL.project_requested,
        ids,
        [m.campaign_id for m in event.messages],
        [m.conversation_id for m in event.messages],
        [m.kind.value for m in event.messages],
        phones,
        event.occurred_at,
        [m.contact_name for m in event.messages],
        [m.recipient.specialty if m.recipient else None for m in event.messages],
        [m.recipient.region if m.recipient else None for m in event.messages],
    )
    await conn.execute(SQL.add_requested_history, ids, event.event_id, event.occurred_at)
    followups = [m for m in event.messages if m.followup_attempt is not None]
    if followups:
        await conn.execute(
            SQL.project_followup_attempts,
            [m.message_id for m in followups],
            [m.followup_attempt for m in followups],
            [m.followup_rule for m in followups],
        )
    await conn.execute(SQL.reattribute_replies, ids, reply_window)


async def on_messages_enqueued(
    conn: asyncpg.Connection, event: MessagesEnqueued, reply_window: timedelta
) -> None:
    ids = [m.message_id for m in event.messages]
    senders = [m.sender for m in event.messages]
    await conn.execute(
        SQL.project_enqueued,
        ids,
        [m.campaign_id for m in event.messages],
        [m.kind.value for m in event.messages],
        senders,
        event.occurred_at,
    )
    await conn.execute(SQL.add_enqueued_history, ids, senders, event.event_id, event.occurred_at)


async def on_message_sent(
    conn: asyncpg.Connection, event: MessageSent, reply_window: timedelta
) -> None:
    """A send can take a reply from an earlier message: re-attributes under the doctor's lock.

    The event carries no phone; the row has it once the request is projected. The lock comes
    after the row is written, so the phone read is the committed one: a request still in
    flight holds the row until it commits. Without a phone yet, the send cannot answer any
    reply, and the request, when projected, re-attributes with this send in sight (it waits
    for this row, then reads it).
    """
    phone = await _fact(
        conn,
        message_id=event.message_id,
        state="sent",
        campaign_id=event.campaign_id,
        conversation_id=event.conversation_id,
        kind=event.kind.value,
        sender=event.sender,
        attempts=event.attempt,
        sent_at=event.sent_at,
    )
    await _history(
        conn,
        event,
        event.message_id,
        "sent",
        event.sent_at,
        f"attempt {event.attempt} via {event.sender}",
    )
    if phone is not None:
        await lock_doctors(conn, [phone])
        await conn.execute(SQL.reattribute_replies, [event.message_id], reply_window)


async def on_message_failed(
    conn: asyncpg.Connection, event: MessageFailed, reply_window: timedelta
) -> None:
    error = mask_phone(event.error)
    await _fact(
        conn,
        message_id=event.message_id,
        state="dead" if event.final else "retrying",
        campaign_id=event.campaign_id,
        attempts=event.attempt,
        failed_at=event.occurred_at,
        error_code=event.error_code,
        error=error,
        dead=event.final,
    )
    detail = f"attempt {event.attempt}: {event.error_code} {error}"
    if event.next_attempt_at is not None and not event.final:
        detail += f"; next attempt at {event.next_attempt_at.isoformat()}"
    status = "dead" if event.final else "failed"
    await _history(conn, event, event.message_id, status, event.occurred_at, detail)


async def on_message_cancelled(
    conn: asyncpg.Connection, event: MessageCancelled, reply_window: timedelta
) -> None:
    """Never sent, on purpose: no longer pending, and the history says why."""
    await _fact(
        conn,
        message_id=event.message_id,
        state="cancelled",
        campaign_id=event.campaign_id,
        conversation_id=event.conversation_id,
        kind=event.kind.value,
    )
    await _history(conn, event, event.message_id, "cancelled", event.occurred_at, event.reason)


async def on_message_delivered(
    conn: asyncpg.Connection, event: MessageDelivered, reply_window: timedelta
) -> None:
    await _fact(
        conn,
        message_id=event.message_id,
        state="delivered",
        campaign_id=event.campaign_id,
        delivered_at=event.at,
    )
    await _history(conn, event, event.message_id, "delivered", event.at, None)


async def on_message_read(
    conn: asyncpg.Connection, event: MessageRead, reply_window: timedelta
) -> None:
    await _fact(
        conn,
        message_id=event.message_id,
        state="read",
        campaign_id=event.campaign_id,
        read_at=event.at,
    )
    await _history(conn, event, event.message_id, "read", event.at, None)


async def on_message_received(
    conn: asyncpg.Connection, event: MessageReceived, reply_window: timedelta
) -> None:
    """Stored with the send it answers, under the doctor's lock (``attribution_locks``)."""
    phone = canonical_phone(event.phone)
    await lock_doctors(conn, [phone])
    await conn.execute(
        SQL.record_reply,
        event.event_id,
        phone,
        event.at,
        reply_window,
        first_words(event.body),
        event.occurred_at,
    )


_CAMPAIGN_STATUS: dict[type[Event], str] = {
    CampaignCreated: "draft",
    CampaignScheduled: "scheduled",
    CampaignStarted: "running",
    CampaignPaused: "paused",
    CampaignResumed: "running",
    CampaignCancelled: "cancelled",
    CampaignCompleted: "completed",
}


async def on_campaign_event(
    conn: asyncpg.Connection, event: CampaignEvent, reply_window: timedelta
) -> None:
    """Every lifecycle fact moves the status; ``started`` also brings the audience size."""
    finished = isinstance(event, CampaignCancelled | CampaignCompleted)
    await conn.execute(
        SQL.project_campaign,
        event.campaign_id,
        event.name if isinstance(event, CampaignCreated) else None,
        _CAMPAIGN_STATUS[type(event)],
        event.occurred_at,
        event.audience_size if isinstance(event, CampaignStarted) else None,
        event.occurred_at if isinstance(event, CampaignStarted) else None,
        event.occurred_at if finished else None,
        event.occurred_at if isinstance(event, CampaignCreated) else None,
    )


async def on_contact_consent(
    conn: asyncpg.Connection, event: ContactOptedOut | ContactOptedIn, reply_window: timedelta
) -> None:
    await conn.execute(
        SQL.project_consent,
        canonical_phone(event.phone),
        isinstance(event, ContactOptedOut),
        event.occurred_at,
    )


async def on_control_changed(
    conn: asyncpg.Connection, event: ConversationControlChanged, reply_window: timedelta
) -> None:
    """A person took the conversation over, or it closed: what stopped its follow-ups."""
    await conn.execute(
        SQL.project_control_change,
        event.conversation_id,
        event.controlled_by.value,
        event.stage.value if event.stage else None,
        event.occurred_at,
    )


async def on_contact_erased(
    conn: asyncpg.Connection, event: ContactErased, reply_window: timedelta
) -> None:
    await privacy.on_contact_erased(conn, event, canonical_phone(event.phone), reply_window)


Handler = Callable[[asyncpg.Connection, Event, timedelta], Awaitable[None]]

HANDLERS: dict[type[Event], Handler] = {
    MessagesRequested: on_messages_requested,
    MessagesEnqueued: on_messages_enqueued,
    MessageSent: on_message_sent,
    MessageCancelled: on_message_cancelled,
    MessageFailed: on_message_failed,
    MessageDelivered: on_message_delivered,
    MessageRead: on_message_read,
    MessageReceived: on_message_received,
    **{cls: on_campaign_event for cls in CAMPAIGN_EVENTS},
    ContactOptedOut: on_contact_consent,
    ContactOptedIn: on_contact_consent,
    ContactErased: on_contact_erased,
    ConversationControlChanged: on_control_changed,
}


def event_phones(event: Event) -> list[str]:
    """The doctors' phones an event carries, in reporting's canonical form."""
    if isinstance(event, MessagesRequested):
        return [canonical_phone(m.phone) for m in event.messages]
    phone = getattr(event, "phone", None)
    return [canonical_phone(phone)] if phone else []


async def project(
    pool: asyncpg.Pool,
    event: Event,
    reply_window: timedelta,
    now: Callable[[], datetime] = utc_now,
    live: bool = True,
) -> bool:
    """Apply ``event`` once; False when the inbox shows it was already applied.

    ``live=False`` (a replay) leaves the lag gauge alone: old events are not a lagging consumer.
    """
    handler = HANDLERS[type(event)]
    event_type = type(event).__name__
    async with pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, CONSUMER, event.event_id):
            EVENTS_DUPLICATE.labels(event_type).inc()
            return False
        await handler(conn, event, reply_window)
        phones = event_phones(event) if live else []  # a replay forgets at its end
        if phones:
            await privacy.forget_late(conn, phones, event.occurred_at)
    EVENTS_PROJECTED.labels(event_type).inc()
    if live:
        PROJECTION_LAG.set(max(0.0, (now() - event.occurred_at).total_seconds()))
    return True


def parse_event(subject: str, body: bytes | str | dict) -> Event:
    """The event carried on ``subject`` (unprefixed); raises KeyError for an unknown subject."""
    cls = EVENT_TYPES[subject]
    if isinstance(body, dict):
        return cls.model_validate(body)
    return cls.model_validate_json(body)
