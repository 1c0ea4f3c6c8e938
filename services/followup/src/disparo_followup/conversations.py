"""Keeps each conversation's follow-up state from events: one plain handler per event type.

Every write is order-independent (times only move forward, a stage fact applies only if newer)
and the inbox makes redeliveries no-ops, so events may come late, early or twice.
"""

from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_followup import privacy
from disparo_followup.campaign_plans import on_campaign_started
from disparo_followup.controls import SQL as CONTROLS_SQL
from disparo_followup.controls import record_event_change
from disparo_followup.metrics import EVENTS_APPLIED
from disparo_followup.rules import ConversationState
from disparo_shared.events import (
    CampaignStarted,
    ContactErased,
    ContactOptedIn,
    ContactOptedOut,
    Controller,
    ConversationStage,
    ConversationStageChanged,
    Event,
    MessageCancelled,
    MessageKind,
    MessageReceived,
    MessagesRequested,
    MessagesSent,
)
from disparo_shared.inbox import first_delivery
from disparo_shared.phones import InvalidPhone, normalize_phone
from disparo_shared.queries import load_queries

CONSUMER = "followup"
SQL = load_queries(Path(__file__).parent / "sql" / "conversations.sql")


def canonical_phone(phone: str) -> str:
    """E.164 when it parses, else the text as given: replies must meet conversations on one key."""
    try:
        return normalize_phone(phone)
    except InvalidPhone:
        return phone.strip()


async def on_messages_requested(conn: asyncpg.Connection, event: MessagesRequested) -> None:
    """Learn the conversations of requested messages: who, which phone, which campaign.

    This is how followup knows every conversation without anyone announcing it: a campaign's
    fan-out names each doctor's conversation (``campaign_conversation_id``) on each message.
    """
    by_conversation = {m.conversation_id: m for m in event.messages if m.conversation_id}
    if not by_conversation:
        return
    messages = list(by_conversation.values())
    await conn.execute(
        SQL.record_requested,
        [m.conversation_id for m in messages],
        [m.contact_id for m in messages],
        [canonical_phone(m.phone) for m in messages],
        [m.contact_name for m in messages],
        [m.campaign_id for m in messages],
        [m.kind.value for m in messages],
        event.occurred_at,
    )


async def on_messages_sent(conn: asyncpg.Connection, event: MessagesSent) -> None:
    """Apply one dispatcher flush of sends in three statements, however many sends it holds.

    Only messages sent in a conversation move its cadence and join its timeline; of those, the
    follow-ups we requested are marked sent.
    """
    sent = [m for m in event.messages if m.conversation_id is not None]
    if not sent:
        return
    await conn.execute(
        SQL.record_outbound,
        [m.conversation_id for m in sent],
        [m.contact_id for m in sent],
        [m.campaign_id for m in sent],
        [m.sent_at for m in sent],
    )
    followups = [m for m in sent if m.kind == MessageKind.FOLLOWUP]
    if followups:
        await conn.execute(
            SQL.record_followups_sent,
            [m.message_id for m in followups],
            [m.sent_at for m in followups],
        )
    await conn.execute(
        SQL.record_outbound_entries,
        [m.conversation_id for m in sent],
        [m.message_id for m in sent],
        [m.kind.value for m in sent],
        [m.sent_at for m in sent],
    )


async def on_message_received(conn: asyncpg.Connection, event: MessageReceived) -> None:
    """A reply stops the cadence of every conversation of the phone and joins their timelines.

    Its time is when the dispatcher recorded it, if later than the provider's: providers give
    whole seconds (Evolution's ``messageTimestamp``), so a reply a few hundred milliseconds after
    our message would otherwise seem to come before it and not stop anything.
    """
    phone = canonical_phone(event.phone)
    at = max(event.at, event.occurred_at)
    await conn.execute(SQL.record_inbound, phone, at)
    await conn.execute(SQL.record_inbound_entries, phone, event.provider_message_id, at, event.body)


async def on_message_cancelled(conn: asyncpg.Connection, event: MessageCancelled) -> None:
    """The dispatcher did not send a follow-up of ours: the conversation moved on."""
    if event.kind == MessageKind.FOLLOWUP:
        await conn.execute(SQL.record_followup_cancelled, event.message_id, event.reason)


async def on_stage_changed(conn: asyncpg.Connection, event: ConversationStageChanged) -> None:
    """The recruiter system's fact, applied when newer than what the conversation shows."""
    before = await conn.fetchrow(CONTROLS_SQL.lock_conversation, event.conversation_id)
    applied = await conn.fetchval(
        SQL.record_stage,
        event.conversation_id,
        event.contact_id,
        canonical_phone(event.phone) if event.phone else None,
        event.contact_name,
        event.stage.value,
        event.controlled_by.value,
        event.occurred_at,
    )
    if applied is not None:
        await record_event_change(
            conn,
            before,
            event.conversation_id,
            event.stage.value,
            event.controlled_by.value,
            event.occurred_at,
        )


async def on_consent(conn: asyncpg.Connection, event: ContactOptedOut | ContactOptedIn) -> None:
    await conn.execute(
        SQL.record_consent,
        canonical_phone(event.phone),
        isinstance(event, ContactOptedOut),
        event.occurred_at,
    )


async def on_erasure(conn: asyncpg.Connection, event: ContactErased) -> None:
    await privacy.on_contact_erased(conn, event, canonical_phone(event.phone))


HANDLERS: dict[type[Event], Callable[[asyncpg.Connection, Event], Awaitable[None]]] = {
    MessagesRequested: on_messages_requested,
    MessagesSent: on_messages_sent,
    MessageCancelled: on_message_cancelled,
    MessageReceived: on_message_received,
    ConversationStageChanged: on_stage_changed,
    ContactOptedOut: on_consent,
    ContactOptedIn: on_consent,
    ContactErased: on_erasure,
    CampaignStarted: on_campaign_started,
}

EVENT_TYPES: dict[str, type[Event]] = {
    subject: cls for cls in HANDLERS for subject in cls.every_subject()
}
"""Event class by unprefixed subject (both of a request's); other subjects on the wildcards are
not followup's concern."""


def event_phones(event: Event) -> list[str]:
    """The doctors' phones an event carries, in followup's canonical form."""
    if isinstance(event, MessagesRequested):
        return [canonical_phone(m.phone) for m in event.messages]
    phone = getattr(event, "phone", None)
    return [canonical_phone(phone)] if phone else []


async def apply(pool: asyncpg.Pool, event: Event) -> bool:
    """Apply ``event`` once; False when the inbox shows it was already applied."""
    async with pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, CONSUMER, event.event_id):
            return False
        await HANDLERS[type(event)](conn, event)
        phones = event_phones(event)
        if phones:
            await privacy.forget_late(conn, phones, event.occurred_at)
    EVENTS_APPLIED.labels(type(event).__name__).inc()
    return True


async def conversation_state(pool: asyncpg.Pool, conversation_id: UUID) -> ConversationState | None:
    row = await pool.fetchrow(SQL.get_conversation, conversation_id)
    if row is None:
        return None
    return ConversationState(
        stage=ConversationStage(row["stage"]) if row["stage"] else None,
        controlled_by=Controller(row["controlled_by"]) if row["controlled_by"] else None,
        last_outbound_at=row["last_outbound_at"],
        last_inbound_at=row["last_inbound_at"],
        followups_in_stage=row["followups_in_stage"],
        last_followup_requested_at=row["last_followup_requested_at"],
        opted_out=row["opted_out"],
        has_phone=row["has_phone"],
    )
