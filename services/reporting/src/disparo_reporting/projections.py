"""Applies events to the read models: one plain handler per event type, one transaction each.

Events arrive out of order and more than once. The inbox makes a redelivery a no-op; the SQL
makes order irrelevant: a message's state only moves up the ranks requested < enqueued <
retrying < sent < delivered < read < dead, each timestamp keeps its first value, and the row is
created by whichever event comes first (a ``sent`` before its ``enqueued`` creates it as sent).
"""

from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_reporting import privacy
from disparo_reporting.attribution_locks import doctor_lock_key, lock_doctors
from disparo_reporting.message_facts import (
    HistoryEntry,
    InboundReply,
    MessageFact,
    add_history,
    apply_facts,
    known_phones,
    record_replies,
)
from disparo_reporting.metrics import (
    EVENTS_DUPLICATE,
    EVENTS_PROJECTED,
    MESSAGES_PROJECTED,
    PROJECTION_LAG,
)
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
    MessagesRequested,
    MessagesSent,
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
    MessagesSent,
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
    subject: cls
    for cls in MESSAGE_EVENTS
    + CAMPAIGN_EVENTS
    + CONTACT_EVENTS
    + REQUEST_EVENTS
    + CONVERSATION_EVENTS
    for subject in cls.every_subject()
}
"""Event class by unprefixed subject (both of a request's), so one subscriber on a wildcard can
parse each message."""


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


@lru_cache(maxsize=65_536)
def canonical_phone(phone: str) -> str:
    """E.164 when it parses, else the text as given: replies must meet sends on the same key.

    Remembered for the last 65,536 phones (a few MB, in memory only): parsing is the costliest
    step of projecting a request (a batch reads each phone three times), and a campaign's
    replies come from the phones its requests named.
    """
    try:
        return normalize_phone(phone)
    except InvalidPhone:
        return phone.strip()


def describe(event: Event) -> tuple[list[MessageFact], list[HistoryEntry], list[InboundReply]]:
    """What a message event (``MESSAGE_EVENTS``) says: facts about message rows, history
    entries and inbound replies. The same for an event projected alone or in a batch."""
    if isinstance(event, MessagesEnqueued):
        return (
            [
                MessageFact(
                    message_id=m.message_id,
                    state="enqueued",
                    campaign_id=m.campaign_id,
                    kind=m.kind.value,
                    sender=m.sender,
                    enqueued_at=event.occurred_at,
                )
                for m in event.messages
            ],
            [
                HistoryEntry(
                    m.message_id,
                    event.event_id,
                    "enqueued",
                    event.occurred_at,
                    None if m.sender is None else f"via {m.sender}",
                )
                for m in event.messages
            ],
            [],
        )
    if isinstance(event, MessagesSent):
        return (
            [
                MessageFact(
                    message_id=m.message_id,
                    state="sent",
                    campaign_id=m.campaign_id,
                    conversation_id=m.conversation_id,
                    kind=m.kind.value,
                    sender=m.sender,
                    attempts=m.attempt,
                    sent_at=m.sent_at,
                )
                for m in event.messages
            ],
            [
                HistoryEntry(
                    m.message_id,
                    event.event_id,
                    "sent",
                    m.sent_at,
                    f"attempt {m.attempt} via {m.sender}",
                )
                for m in event.messages
            ],
            [],
        )
    if isinstance(event, MessageFailed):
        error = mask_phone(event.error)
        fact = MessageFact(
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
        return [fact], [_entry(event, event.message_id, status, event.occurred_at, detail)], []
    if isinstance(event, MessageCancelled):
        # never sent, on purpose: no longer pending, and the history says why
        fact = MessageFact(
            message_id=event.message_id,
            state="cancelled",
            campaign_id=event.campaign_id,
            conversation_id=event.conversation_id,
            kind=event.kind.value,
        )
        entry = _entry(event, event.message_id, "cancelled", event.occurred_at, event.reason)
        return [fact], [entry], []
    if isinstance(event, MessageDelivered):
        fact = MessageFact(
            message_id=event.message_id,
            state="delivered",
            campaign_id=event.campaign_id,
            delivered_at=event.at,
        )
        return [fact], [_entry(event, event.message_id, "delivered", event.at, None)], []
    if isinstance(event, MessageRead):
        fact = MessageFact(
            message_id=event.message_id,
            state="read",
            campaign_id=event.campaign_id,
            read_at=event.at,
        )
        return [fact], [_entry(event, event.message_id, "read", event.at, None)], []
    if isinstance(event, MessageReceived):
        reply = InboundReply(
            event_id=event.event_id,
            phone=canonical_phone(event.phone),
            at=event.at,
            preview=first_words(event.body),
            received_at=event.occurred_at,
        )
        return [], [], [reply]
    raise TypeError(f"not a message event: {type(event).__name__}")


def _entry(
    event: Event, message_id: UUID, status: str, at: datetime, detail: str | None
) -> HistoryEntry:
    return HistoryEntry(message_id, event.event_id, status, at, detail)


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


async def on_message_event(conn: asyncpg.Connection, event: Event, reply_window: timedelta) -> None:
    """Enqueued, sent, failed, cancelled, delivered, read: facts about the messages and their
    history; received: the reply, stored with the send it answers.

    Sends can take replies from earlier messages: they re-attribute under their doctors' locks
    (``lock_senders``, ``reattribute_sends``). A reply takes its doctor's lock before it is
    matched.
    """
    facts, history, replies = describe(event)
    sends = sent_message_ids(event)
    held = await lock_senders(conn, sends)
    phones = await apply_facts(conn, facts)
    await add_history(conn, history)
    await reattribute_sends(conn, sends, phones, held, reply_window)
    if replies:
        await lock_doctors(conn, [r.phone for r in replies])
        await record_replies(conn, replies, reply_window)


def sent_message_ids(event: Event) -> list[UUID]:
    """The messages a ``message.sent`` batch reports sent; none for any other event."""
    return [m.message_id for m in event.messages] if isinstance(event, MessagesSent) else []


async def lock_senders(conn: asyncpg.Connection, sends: Sequence[UUID]) -> set[int]:
    """Take, in key order, the attribution locks of the doctors of ``sends`` whose phones are
    already known; returns the keys held.

    Before the rows are written, as a request takes its doctors' locks before its rows: a send
    that wrote its rows first could hold one a request waits on while it waits for that
    request's lock. ``batch_projection`` takes these with the doctors its other events name,
    in one call.
    """
    phones = await known_phones(conn, sends)
    await lock_doctors(conn, phones)
    return {doctor_lock_key(phone) for phone in phones}


async def reattribute_sends(
    conn: asyncpg.Connection,
    sends: Collection[UUID],
    phones: dict[UUID, str | None],
    held: set[int],
    reply_window: timedelta,
) -> None:
    """Re-attribute the replies in the windows of ``sends`` now written (``phones``: each
    written message's phone, from ``apply_facts``), under their doctors' locks (``held``: the
    keys already taken, updated).

    The phones read after the write are the committed ones: a request still in flight holds
    its rows until it commits. One it committed after ``lock_senders`` read the phones is
    locked here, late; a send still without a phone cannot answer any reply, and its request,
    when projected, re-attributes with the send in sight (it waits for the send's row).
    """
    sent = set(sends)
    answering = {mid: phone for mid, phone in phones.items() if mid in sent and phone}
    if not answering:
        return
    late = [phone for phone in answering.values() if doctor_lock_key(phone) not in held]
    if late:
        await lock_doctors(conn, late)
        held.update(doctor_lock_key(phone) for phone in late)
    await conn.execute(SQL.reattribute_replies, sorted(answering), reply_window)


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
    **{cls: on_message_event for cls in MESSAGE_EVENTS},
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


def carried_messages(event: Event) -> int:
    """How many messages an event speaks of: a batch (requested, enqueued, sent) its list's
    length, up to 5,000; any other event one. What a projection's work grows with."""
    if isinstance(event, MessagesRequested | MessagesEnqueued | MessagesSent):
        return len(event.messages)
    return 1


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
            await privacy.forget_late(conn, phones, [event.occurred_at] * len(phones))
    EVENTS_PROJECTED.labels(event_type).inc()
    MESSAGES_PROJECTED.labels(event_type).inc(carried_messages(event))
    if live:
        PROJECTION_LAG.set(max(0.0, (now() - event.occurred_at).total_seconds()))
    return True


def parse_event(subject: str, body: bytes | str | dict) -> Event:
    """The event carried on ``subject`` (unprefixed); raises KeyError for an unknown subject."""
    cls = EVENT_TYPES[subject]
    if isinstance(body, dict):
        return cls.model_validate(body)
    return cls.model_validate_json(body)
